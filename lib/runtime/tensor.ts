/**
 * `Tensor`: a dtype, dims and a caller-owned typed array, the unit the runtime hands to the
 * native shim without copying.
 *
 * @module
 */

/** Element types the runtime supports (ONNX names). `float16`/`bfloat16` hold raw bits. */
export type DType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "bool";

/** The typed arrays that can back a tensor. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** The typed array that holds each dtype. */
export interface DTypeData {
  /** 32-bit floats. */
  float32: Float32Array;
  /** 64-bit floats. */
  float64: Float64Array;
  /** IEEE half floats, as raw bits. */
  float16: Uint16Array;
  /** bfloat16, as raw bits. */
  bfloat16: Uint16Array;
  /** Signed bytes. */
  int8: Int8Array;
  /** Bytes. */
  uint8: Uint8Array;
  /** 16-bit integers. */
  int16: Int16Array;
  /** 16-bit unsigned integers. */
  uint16: Uint16Array;
  /** 32-bit integers. */
  int32: Int32Array;
  /** 32-bit unsigned integers. */
  uint32: Uint32Array;
  /** 64-bit integers. */
  int64: BigInt64Array;
  /** 64-bit unsigned integers. */
  uint64: BigUint64Array;
  /** Booleans, one byte each (0 or 1). */
  bool: Uint8Array;
}

/**
 * A dense row-major tensor over caller-owned memory.
 *
 * `data` must be the typed array of `dtype` ({@linkcode DTypeData}) with exactly
 * `product(dims)` elements.
 *
 * @typeParam D The element type.
 */
export interface Tensor<D extends DType = DType> {
  /** Element type. */
  readonly dtype: D;
  /** Dimensions, each a non-negative integer (`[]` for a scalar). */
  readonly dims: readonly number[];
  /** Elements, row-major. */
  readonly data: DTypeData[D];
}

/** Per-dtype facts: ONNX code, element size and the typed array that holds it. */
export const DTYPE_INFO: Readonly<
  Record<DType, { readonly code: number; readonly size: number; readonly array: string }>
> = {
  float32: { code: 1, size: 4, array: "Float32Array" },
  uint8: { code: 2, size: 1, array: "Uint8Array" },
  int8: { code: 3, size: 1, array: "Int8Array" },
  uint16: { code: 4, size: 2, array: "Uint16Array" },
  int16: { code: 5, size: 2, array: "Int16Array" },
  int32: { code: 6, size: 4, array: "Int32Array" },
  int64: { code: 7, size: 8, array: "BigInt64Array" },
  bool: { code: 9, size: 1, array: "Uint8Array" },
  float16: { code: 10, size: 2, array: "Uint16Array" },
  float64: { code: 11, size: 8, array: "Float64Array" },
  uint32: { code: 12, size: 4, array: "Uint32Array" },
  uint64: { code: 13, size: 8, array: "BigUint64Array" },
  bfloat16: { code: 16, size: 2, array: "Uint16Array" },
};

const BY_CODE = new Map<number, DType>(
  (Object.keys(DTYPE_INFO) as DType[]).map((d) => [DTYPE_INFO[d].code, d]),
);

/**
 * The dtype of an ONNX element-type code.
 *
 * @param code ONNX `TensorProto.DataType` number.
 * @returns The dtype, or `undefined` for an unsupported code (strings, complex, ...).
 */
export function dtypeFromCode(code: number): DType | undefined {
  return BY_CODE.get(code);
}

const CONSTRUCTORS: Record<string, new (length: number) => TensorData> = {
  Float32Array,
  Float64Array,
  Int8Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
};

/**
 * Number of elements of a shape, checking every dim.
 *
 * @param dims Dimensions.
 * @param name Parameter name used in errors.
 * @returns The product of the dims.
 * @throws {RangeError} When a dim is not a non-negative safe integer.
 */
export function elementCount(dims: readonly number[], name = "dims"): number {
  if (!Array.isArray(dims)) throw new TypeError(`${name} must be an array of integers`);
  if (dims.length > 8) throw new RangeError(`${name} must have at most 8 dims, got ${dims.length}`);
  let n = 1;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`${name}[${i}] must be a non-negative integer, got ${d}`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new RangeError(`${name} describe too many elements`);
  return n;
}

/**
 * Checks that a value is a well-formed {@linkcode Tensor}: a known dtype, valid dims, and data of
 * the dtype's typed array with exactly `product(dims)` elements.
 *
 * @param t The value to check.
 * @param name Parameter name used in errors (e.g. `feeds.x`).
 * @throws {TypeError} For a wrong dtype or data type.
 * @throws {RangeError} For bad dims or a wrong element count.
 */
export function checkTensor(t: Tensor, name = "tensor"): void {
  if (t === null || typeof t !== "object") throw new TypeError(`${name} must be a Tensor`);
  const info = DTYPE_INFO[t.dtype];
  if (info === undefined) throw new TypeError(`${name}.dtype is not supported: ${t.dtype}`);
  const count = elementCount(t.dims, `${name}.dims`);
  const data = t.data;
  if (!ArrayBuffer.isView(data) || data.constructor.name !== info.array) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : typeof data;
    throw new TypeError(`${name}.data must be a ${info.array} for dtype ${t.dtype}, got ${got}`);
  }
  if (data.length !== count) {
    throw new RangeError(
      `${name}.data must have ${count} elements for dims [${
        t.dims.join(", ")
      }], got ${data.length}`,
    );
  }
}

/**
 * Makes a tensor, allocating zeroed data when none is given.
 *
 * @typeParam D The element type.
 * @param dtype Element type.
 * @param dims Dimensions.
 * @param data Elements (kept, not copied); default: zeros.
 * @returns The checked tensor.
 * @throws {TypeError} / {RangeError} As {@linkcode checkTensor}.
 *
 * @example A 2 x 3 float tensor
 * ```ts
 * import { tensor } from "@specdec/specdec";
 * const t = tensor("float32", [2, 3]);
 * if (t.data.length !== 6) throw new Error("unexpected");
 * ```
 */
export function tensor<D extends DType>(
  dtype: D,
  dims: readonly number[],
  data?: DTypeData[D],
): Tensor<D> {
  const info = DTYPE_INFO[dtype];
  if (info === undefined) throw new TypeError(`dtype is not supported: ${dtype}`);
  const count = elementCount(dims);
  const ctor = CONSTRUCTORS[info.array];
  if (ctor === undefined) throw new TypeError(`dtype is not supported: ${dtype}`);
  const t = { dtype, dims: [...dims], data: data ?? new ctor(count) } as Tensor<D>;
  checkTensor(t);
  return t;
}
