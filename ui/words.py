"""What a model's images are called on the page: its dataset's noun ("digit", "item", "image") and class
names, and sentences written for MNIST said in those words."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vae_core import data


@dataclass(frozen=True)
class Kind:
    """What a model's images are: its dataset ("mnist", "fashion-mnist" or a folder), its class names
    and the word for one image ("digit", "item", "image"), so that the page speaks of what it shows."""

    dataset: str
    classes: tuple[str, ...]
    noun: str

    @classmethod
    def of(cls, dataset: str, classes=None) -> "Kind":
        source = data.DATASETS.get(dataset)
        names = tuple(classes) if classes else (source.classes if source else data.DIGITS)
        return cls(dataset, names, source.noun if source else data.FOLDER_NOUN)

    @property
    def digits(self) -> bool:
        return self.dataset == "mnist"

    @property
    def title(self) -> str:
        source = data.DATASETS.get(self.dataset)
        return source.title if source else f"your folder “{Path(self.dataset).name}”"

    def name(self, label: int) -> str:
        """Class `label` as the page writes it: '3', 'Sneaker'."""
        label = int(label)
        return self.classes[label] if 0 <= label < len(self.classes) else str(label)

    def plain(self, label: int) -> str:
        """Class `label` inside a sentence, without an article: '7', 'sneaker', '“cats”'."""
        word = self.name(label)
        if self.digits:
            return word
        if self.dataset in data.DATASETS:
            return word if word.isupper() else word.lower()
        return f"“{word}”"  # a folder's class: the user's own word, as they wrote it

    def a(self, label: int) -> str:
        """A class with its article, as it is read aloud: 'a 3', 'an 8', 'an ankle boot', '“cats”'."""
        word = self.plain(label)
        if self.digits:
            return f"an {word}" if word == "8" else f"a {word}"
        if self.dataset not in data.DATASETS:
            return word
        return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"

    @property
    def nouns(self) -> str:
        return f"{self.noun}s"

    def say(self, text: str) -> str:
        """A sentence written for MNIST, in the words of this dataset ("digit" becomes "item" or "image")."""
        if self.digits:
            return text
        a_noun = f"{'an' if self.noun[:1] in 'aeiou' else 'a'} {self.noun}"
        for old, new in (("real handwriting", "the real ones"), ("thinner ◀ stroke ▶ bolder", "dimmer ◀ brightness ▶ brighter"),
                         ("leaning left ◀ slant ▶ leaning right", "tilted left ◀ tilt ▶ tilted right"),
                         ("(ink, slant, size)", "(how bright, how tilted, how big)"),
                         ("a digit's", "a class's"), ("that digit's", "that class's"),
                         ("handwritten digits", self.nouns), ("handwritten digit", self.noun), ("a digit", a_noun),
                         ("A digit", a_noun.capitalize()), ("digits", self.nouns), ("Digits", self.nouns.capitalize()),
                         ("digit", self.noun), ("Digit", self.noun.capitalize())):
            text = text.replace(old, new)
        return text

    @property
    def one(self) -> str:
        """One image of the dataset in a sentence ("this is probably not {one}")."""
        return {"mnist": "a digit", "fashion-mnist": "a fashion item"}.get(self.dataset, "like your images")
