import { assertEquals, assertThrows } from "./_assert.ts";
import { SafeTensors } from "../../lib/model/safetensors.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";

/** Builds safetensors bytes from a header object and a data section. */
function file(header: unknown, data: Uint8Array, headerSize?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerSize ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (xs: number[]): Uint8Array => new Uint8Array(new Float32Array(xs).buffer);

Deno.test("SafeTensors reads f32, f16 and bf16 tensors as f32", () => {
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]).buffer); // 1, -2, 2^-24, 65504
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0x4049]).buffer); // 1, 3.140625
  const data = new Uint8Array([...f32([1.5, -2, 3, 4]), ...f16, ...bf16]);
  const st = SafeTensors.fromBytes(
    file({
      __metadata__: { format: "pt" },
      a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
      h: { dtype: "F16", shape: [4], data_offsets: [16, 24] },
      b: { dtype: "BF16", shape: [2], data_offsets: [24, 28] },
    }, data),
  );
  assertEquals(Array.from(st.float32("a", [2, 2])), [1.5, -2, 3, 4]);
  assertEquals(Array.from(st.float32("h")), [1, -2, Math.pow(2, -24), 65504]);
  assertEquals(Array.from(st.float32("b")), [1, 3.140625]);
  assertEquals(st.metadata.format, "pt");
  assertEquals(st.names.length, 3);
  assertThrows(() => st.float32("a", [4]), SpecDecError, "has shape [2,2], expected [4]");
  assertThrows(() => st.float32("nope"), SpecDecError, '"nope" not found');
});

Deno.test("SafeTensors rejects a bad header", () => {
  assertThrows(
    () => SafeTensors.fromBytes(new Uint8Array(4), "t.safetensors"),
    SpecDecError,
    "t.safetensors",
  );
  assertThrows(
    () => SafeTensors.fromBytes(file({}, new Uint8Array(), 1n << 40n)),
    SpecDecError,
    "exceeds",
  );
  assertThrows(
    () => SafeTensors.fromBytes(file({}, new Uint8Array(), 999n)),
    SpecDecError,
    "past the end",
  );
  const notJson = file({}, new Uint8Array());
  notJson[8] = 0x7b; // "{" then "}" -> still valid; break it
  notJson[9] = 0x7b;
  assertThrows(() => SafeTensors.fromBytes(notJson), SpecDecError, "not JSON");
  assertThrows(
    () =>
      SafeTensors.fromBytes(
        file({ a: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      ),
    SpecDecError,
    "unsupported dtype",
  );
  assertThrows(
    () =>
      SafeTensors.fromBytes(
        file({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      ),
    SpecDecError,
    "invalid shape",
  );
  assertThrows(
    () =>
      SafeTensors.fromBytes(
        file({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8)),
      ),
    SpecDecError,
    "needs 8",
  );
});

Deno.test("SafeTensors rejects out-of-range offsets, truncated data and overlap", () => {
  assertThrows(
    () =>
      SafeTensors.fromBytes(
        file({ a: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, new Uint8Array(8)),
      ),
    SpecDecError,
    "run past the data section",
  );
  // A valid file cut short.
  const ok = file({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, f32([1, 2, 3, 4]));
  SafeTensors.fromBytes(ok);
  assertThrows(
    () => SafeTensors.fromBytes(ok.subarray(0, ok.length - 3), "cut.safetensors"),
    SpecDecError,
    "truncated",
  );
  assertThrows(
    () =>
      SafeTensors.fromBytes(
        file({
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        }, new Uint8Array(12)),
      ),
    SpecDecError,
    "overlap",
  );
  assertThrows(
    () =>
      SafeTensors.fromBytes(
        file({ a: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)),
      ),
    SpecDecError,
    "invalid data_offsets",
  );
});

Deno.test("SafeTensors.open() names a missing file", async () => {
  try {
    await SafeTensors.open("/nonexistent/model.safetensors");
    throw new Error("expected a rejection");
  } catch (e) {
    if (!(e instanceof SpecDecError) || !e.message.includes("/nonexistent/model.safetensors")) {
      throw e;
    }
  }
});
