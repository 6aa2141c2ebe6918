/* The models' decoders in the visitor's browser (ui/drawing.py says why).

   window.vaeDraw.picture(canvas, hooks) makes a picture of codes that draws itself: from the server's
   pixels when they come, else with the model's decoder run here by onnxruntime-web (vendored under
   ui/vendor, served by the app at vae/ort/). A view moves its code with picture.move(amounts), which
   redraws here without a request once the decoder is ready; until then, or where WebAssembly is
   missing, hooks.askServer() has the server draw it. The runtime loads only after the page's first
   picture is on screen, so the first picture does not wait for it.

   ?draw=server in the page's address keeps every drawing on the server (to compare the two). */
(() => {
  if (window.vaeDraw) return;

  const ORT = 'vae/ort/';
  const FIRST_PICTURE_MS = 4000;  // the runtime waits at most this long for the page's first picture
  const GUTTER = 2, GUTTER_GREY = 96;  // between the frames of a strip, as vae_core.images.grid draws them
  const FRAME_MS = 90;  // an animation's pace
  const SETTLE_MS = 800;  // a move is over once the visitor has paused this long: the view may then ask the server
  const serverOnly = new URLSearchParams(location.search).get('draw') === 'server';
  const sessions = new Map();  // decoder URL -> Promise of its session (null: draw on the server)
  const ready = new Map();  // decoder URL -> its session, once it exists
  const pictures = new Map();  // a view's name for a picture -> the picture
  const timings = [];  // {source, ms}: a move to its new picture drawn, for the benchmark
  let runtime = null;

  const firstPicture = new Promise((resolve) => {
    const started = Date.now();
    const look = setInterval(() => {
      const drawn = document.querySelector('.js-plotly-plot .main-svg, canvas.vae-canvas[data-drawn]');
      if (drawn || Date.now() - started > FIRST_PICTURE_MS) {
        clearInterval(look);
        resolve();
      }
    }, 200);
  });

  function loadRuntime() {
    runtime = runtime || (async () => {
      if (serverOnly || typeof WebAssembly !== 'object') return null;
      await firstPicture;
      const ort = await import(new URL(ORT + 'ort.wasm.bundle.min.mjs', document.baseURI).href);
      // Only the .wasm from here: its loader is bundled in the module (naming a folder fetches a loader too).
      ort.env.wasm.wasmPaths = {wasm: new URL(ORT + 'ort-wasm-simd-threaded.wasm', document.baseURI).href};
      ort.env.wasm.numThreads = 1;  // the page is not cross-origin isolated: no threads to share memory
      return ort;
    })().catch((error) => {
      console.warn('vaeDraw: the browser cannot run the decoders; the server draws instead.', error);
      return null;
    });
    return runtime;
  }

  function session(url) {
    if (!sessions.has(url)) {
      sessions.set(url, (async () => {
        const ort = await loadRuntime();
        if (!ort) return null;
        const answer = await fetch(new URL(url, document.baseURI));
        if (!answer.ok) throw new Error(`${url}: HTTP ${answer.status}`);
        const made = await ort.InferenceSession.create(new Uint8Array(await answer.arrayBuffer()),
                                                       {executionProviders: ['wasm']});
        const run = {ort, session: made, queue: Promise.resolve()};
        ready.set(url, run);
        return run;
      })().catch((error) => {
        console.warn('vaeDraw: no decoder from', url, '; the server draws instead.', error);
        return null;
      }));
    }
    return sessions.get(url);
  }

  // Codes (arrays of numbers) -> pictures (784 bytes each), one call at a time per decoder.
  function decode(url, codes) {
    const run = ready.get(url);
    const job = run.queue.then(async () => {
      const dims = codes[0].length, flat = new Float32Array(codes.length * dims);
      codes.forEach((code, i) => flat.set(code, i * dims));
      const out = await run.session.run({z: new run.ort.Tensor('float32', flat, [codes.length, dims])});
      const values = out.image.data;
      return codes.map((_, i) => toBytes(values.subarray(i * 784, (i + 1) * 784)));
    });
    run.queue = job.catch(() => null);
    return job;
  }

  // [0, 1] -> 0..255 as vae_core.images.to_uint8 rounds it.
  function toBytes(values) {
    const bytes = new Uint8ClampedArray(784);
    for (let i = 0; i < 784; i++) bytes[i] = Math.floor(Math.min(1, Math.max(0, values[i])) * 255 + 0.5);
    return bytes;
  }

  function fromBase64(text) {
    const raw = atob(text), bytes = new Uint8ClampedArray(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  // The code a picture shows once its sliders moved: ui/drawing.py's moved_code.
  function codeFor(value, amounts) {
    const z = Float32Array.from(value.codes[0]);
    (value.dims || []).forEach((d, i) => { z[d] = Number(amounts[i]); });
    (value.steps || []).forEach((step, i) => step.forEach((x, j) => { z[j] += Number(amounts[i]) * x; }));
    return Array.from(z);
  }

  // A walk between two codes, as vae_core.latent.interpolate takes it (its slerp: Shoemake 1985).
  function walkBetween(a, b, steps, mode) {
    const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    const n0 = norm(a), n1 = norm(b);
    const omega = Math.acos(Math.min(1, Math.max(-1, a.reduce((s, x, i) => s + x * b[i], 0) / (n0 * n1 + 1e-12))));
    return Array.from({length: steps}, (_, k) => {
      const t = steps === 1 ? 0 : k / (steps - 1);
      if (mode !== 'spherical' || Math.abs(omega) < 1e-4) return a.map((x, i) => x + t * (b[i] - x));
      const s = Math.sin(omega), wa = Math.sin((1 - t) * omega) / s / n0, wb = Math.sin(t * omega) / s / n1;
      const direction = a.map((x, i) => wa * x + wb * b[i]), length = (1 - t) * n0 + t * n1;
      const d = norm(direction);
      return direction.map((x) => x / d * length);
    });
  }

  function picture(canvas, hooks) {
    const context = canvas.getContext('2d');
    let value = null, frames = [], wanted = null, busy = false, asked = null, timer = null, shown = null;
    let settle = null;
    // Once the visitor pauses, the view hears of it (hooks.settled): what it shows beside the picture (a map)
    // follows then, one request for a whole drag. Not a slider's release: Gradio 6.31 now and then lost it.
    const settling = () => {
      clearTimeout(settle);
      settle = setTimeout(() => hooks.settled && hooks.settled(), SETTLE_MS);
    };
    const reduceMotion = window.matchMedia && matchMedia('(prefers-reduced-motion: reduce)').matches;

    function paint(tiles, columns) {
      const rows = Math.ceil(tiles.length / columns);
      const width = columns === 1 && rows === 1 ? 28 : columns * (28 + GUTTER) + GUTTER;
      const height = columns === 1 && rows === 1 ? 28 : rows * (28 + GUTTER) + GUTTER;
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      const image = context.createImageData(width, height);
      image.data.fill(GUTTER_GREY);
      const pad = width === 28 ? 0 : GUTTER;
      tiles.forEach((tile, k) => {
        const top = pad + Math.floor(k / columns) * (28 + GUTTER), left = pad + (k % columns) * (28 + GUTTER);
        for (let y = 0; y < 28; y++) {
          for (let x = 0; x < 28; x++) {
            const v = tile[y * 28 + x], at = ((top + y) * width + left + x) * 4;
            image.data[at] = image.data[at + 1] = image.data[at + 2] = v;
          }
        }
      });
      for (let at = 3; at < image.data.length; at += 4) image.data[at] = 255;
      context.putImageData(image, 0, 0);
      canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
    }

    function draw(tiles, source) {
      frames = tiles;
      canvas.dataset.source = source;
      if (value && value.animate) return animate();
      paint(tiles, value && value.columns ? value.columns : tiles.length);
    }

    // Forward and back, frame by frame; a click pauses or plays (with reduced motion, paused at first).
    function animate() {
      clearInterval(timer);
      let k = 0, step = 1;
      const next = () => {
        paint([frames[k]], 1);
        if (frames.length > 1) {
          if (k + step < 0 || k + step >= frames.length) step = -step;
          k += step;
        }
      };
      next();
      if (!reduceMotion && frames.length > 1) timer = setInterval(next, FRAME_MS);
      canvas.onclick = () => { if (timer) { clearInterval(timer); timer = null; } else timer = setInterval(next, FRAME_MS); };
    }

    async function drawHere(codes, started) {
      if (busy) { wanted = {codes, started}; return; }  // only the latest move is drawn
      busy = true;
      try {
        const tiles = await decode(value.decoder, codes);
        shown = codes;
        draw(tiles, 'browser');
        if (started !== undefined) timings.push({source: 'browser', ms: performance.now() - started});
      } catch (error) {
        console.warn('vaeDraw: the browser decoder failed; the server draws instead.', error);
        ready.delete(value.decoder);
        hooks.askServer();
      } finally {
        busy = false;
        if (wanted) {
          const next = wanted;
          wanted = null;
          drawHere(next.codes, next.started);
        }
      }
    }

    // The page says once that it draws this model itself: the server then sends codes, not pixels.
    function drawnHere(given) {
      session(given.decoder).then((run) => {
        if (run && value === given && given.local !== given.decoder) {
          value = {...given, local: given.decoder};
          hooks.setValue(value);
        }
      });
    }

    return {
      show(next) {  // a value from the server
        if (asked !== null) {
          timings.push({source: 'server', ms: performance.now() - asked});
          asked = null;
        }
        canvas.closest('figure').classList.toggle('vae-empty', !(next && next.codes));
        if (!next || !next.codes) {  // nothing to show (no empty frame either), but maybe codes to come
          clearInterval(timer);
          value = next && next.decoder ? next : null;
          if (value && !serverOnly) drawnHere(value);
          return;
        }
        value = next;
        if (next.pixels) {
          shown = next.codes;
          draw(next.pixels.map(fromBase64), 'server');
        }
        else if (ready.has(next.decoder)) drawHere(next.codes);
        else hooks.askServer();
        if (next.decoder && !serverOnly) drawnHere(value);
      },
      move(amounts) {  // the view's sliders moved
        if (!value) return;
        settling();
        const started = performance.now();
        if (ready.has(value.decoder)) drawHere([codeFor(value, amounts)], started);
        else {
          asked = started;
          hooks.askServer();
        }
      },
      walk(steps) {  // a walk with another number of steps, drawn here when it can (else at the server's next value)
        if (!value || !value.walk) return;
        settling();
        if (!ready.has(value.decoder)) return;
        const codes = walkBetween(value.walk.ends[0], value.walk.ends[1], Number(steps), value.walk.mode);
        if (value.walk.most) {  // as few rows as fit, the frames shared evenly between them
          const rows = Math.ceil(codes.length / value.walk.most);
          value = {...value, columns: Math.ceil(codes.length / rows)};
        }
        drawHere(codes, performance.now());
      },
      showCodes(codes) {  // codes chosen on the page (a spot clicked on a map), drawn here
        canvas.closest('figure').classList.remove('vae-empty');
        value = {...value, codes, pixels: null};
        drawHere(codes, performance.now());
      },
      drawsHere(dims) {  // whether codes of `dims` numbers can be drawn here now
        return Boolean(value && ready.has(value.decoder) && (value.codes ? value.codes[0].length === dims : true));
      },
      get value() { return value; },
      get codes() { return shown; },  // the codes of the pictures shown (for the server's, its first codes)
      get local() { return Boolean(value && ready.has(value.decoder)); },
    };
  }

  window.vaeDraw = {
    picture,
    register(name, made) { pictures.set(name, made); },
    get(name) { return pictures.get(name); },
    codeFor,
    walkBetween,
    timings,
    serverOnly,
    // What the tests and benchmarks read: the pixels a canvas shows, as 0..255 grey values.
    pixelsOf(name) {
      const canvas = document.querySelector(`#${name} canvas`);
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      return Array.from({length: data.length / 4}, (_, i) => data[i * 4]);
    },
  };
})();
