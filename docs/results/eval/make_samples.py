"""Writes the first N images of an IDX split as a `catchup eval` samples file: x [N,1,H,W] float32 in [-1, 1].

usage: make_samples.py IMAGES.idx3-ubyte.gz N OUT.safetensors real|blur|gauss<SIGMA>|noise
Standard library only (no numpy), for the sanity rows of the README's Evaluation section.
"""
import array, gzip, json, random, struct, sys

src, n, out, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with gzip.open(src) as f:
    data = f.read()
_, rows, cols = struct.unpack(">III", data[4:16])
pixels = data[16:16 + n * rows * cols]
rng = random.Random(0)
vals = array.array("f", (b / 127.5 - 1 for b in pixels))
if mode == "noise":
    vals = array.array("f", (rng.uniform(-1, 1) for _ in vals))
elif mode.startswith("gauss"):
    sigma = float(mode[5:])
    vals = array.array("f", (max(-1.0, min(1.0, b / 127.5 - 1 + rng.gauss(0, sigma))) for b in pixels))
elif mode == "blur":  # 3x3 box blur, edges averaged over the pixels inside the image
    blurred = array.array("f", vals)
    for k in range(n):
        base = k * rows * cols
        for y in range(rows):
            for x in range(cols):
                window = [vals[base + yy * cols + xx] for yy in (y - 1, y, y + 1) for xx in (x - 1, x, x + 1)
                          if 0 <= yy < rows and 0 <= xx < cols]
                blurred[base + y * cols + x] = sum(window) / len(window)
    vals = blurred
elif mode != "real":
    sys.exit(f"unknown mode {mode}")
header = json.dumps({"x": {"dtype": "F32", "shape": [n, 1, rows, cols], "data_offsets": [0, 4 * len(vals)]},
                     "__metadata__": {"source": src, "mode": mode}}).encode()
header += b" " * ((8 - len(header) % 8) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    f.write(vals.tobytes())
