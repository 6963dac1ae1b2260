/**
 * A tiny ONNX graph builder over our own protobuf writer: inputs, outputs,
 * initializers (embedded or external), nodes with attributes, and the model
 * wrapper with its opset imports.
 *
 * @module
 */

import { ProtoWriter } from "./_proto_writer.ts";

/** ONNX tensor element types used here (`TensorProto.DataType`). */
export const ElemType = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
} as const;

/** A name of {@linkcode ElemType}. */
export type ElemTypeName = keyof typeof ElemType;

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

/** A float attribute whose value happens to be an integer (`1.0`). */
export class FloatAttr {
  /**
   * @param value The float value.
   */
  constructor(readonly value: number) {}
}

/** An attribute value: integers become INT, other numbers FLOAT, arrays of integers INTS. */
export type AttrValue = number | string | number[] | FloatAttr;

/** Data of an initializer. */
export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;

/**
 * An initializer kept outside the model bytes: the model names an external
 * data file `location` (offset 0, whole file) that never exists on disk; the
 * session receives its bytes from memory (ONNX Runtime
 * `AddExternalInitializersFromFilesInMemory`).
 */
export interface ExternalTensor {
  /** The tensor's data, referenced, not copied (f32 weights, or quantized codes and zero points). */
  data: Float32Array | Uint8Array | Uint16Array;
  /** Its shape. */
  dims: number[];
  /** The in-memory "file" name written in the model. */
  location: string;
}

/**
 * Receives external initializers as they are made, for a model whose weights live in a file
 * beside it (the builder then keeps no reference to their data).
 */
export interface ExternalSink {
  /**
   * Stores one tensor's bytes.
   *
   * @param name Initializer name.
   * @param bytes Its raw little-endian bytes.
   * @returns The file (relative to the model) and the byte offset it was written at.
   */
  write(name: string, bytes: Uint8Array): { location: string; offset: number };
}

function elemTypeOf(data: TensorData): number {
  if (data instanceof Float32Array) return ElemType.float32;
  if (data instanceof Int32Array) return ElemType.int32;
  if (data instanceof BigInt64Array) return ElemType.int64;
  if (data instanceof Uint16Array) return ElemType.float16; // f16 bit patterns
  return ElemType.uint8;
}

function valueInfo(name: string, type: ElemTypeName, dims: Dim[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) {
    const dim = new ProtoWriter();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensor = new ProtoWriter().int(1, ElemType[type]).message(2, shape);
  const typeProto = new ProtoWriter().message(1, tensor);
  return new ProtoWriter().string(1, name).message(2, typeProto);
}

function attribute(name: string, value: AttrValue): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if (value instanceof FloatAttr) return a.float(2, value.value).int(20, 1);
  if (typeof value === "number") {
    return Number.isInteger(value) ? a.int(3, value).int(20, 2) : a.float(2, value).int(20, 1);
  }
  if (typeof value === "string") return a.string(4, value).int(20, 3);
  return a.packedInts(8, value).int(20, 7);
}

/**
 * Builds one ONNX graph and serialises it as a `ModelProto`.
 *
 * @example A graph that adds one to its input
 * ```ts
 * import { GraphBuilder } from "./graph_builder.ts";
 * const g = new GraphBuilder("add_one");
 * g.input("x", "float32", ["n"]);
 * const one = g.initializer("one", new Float32Array([1]), [1]);
 * g.output(g.op("Add", ["x", one], {}, "", "y"), "float32", ["n"]);
 * const bytes = g.toModel();
 * if (bytes.length === 0) throw new Error("empty model");
 * ```
 */
export class GraphBuilder {
  #graph = new ProtoWriter();
  #inputs: ProtoWriter[] = [];
  #outputs: ProtoWriter[] = [];
  #counter = 0;
  #names = new Set<string>();
  /** Initializers to hand to ONNX Runtime by reference, by name. */
  readonly externals: Map<string, ExternalTensor> = new Map();

  #sink: ExternalSink | undefined;

  /**
   * @param name Graph name.
   * @param sink Where external initializers go (default: kept in
   *   {@linkcode GraphBuilder.externals} for in-memory hand-over).
   */
  constructor(readonly name: string, sink?: ExternalSink) {
    this.#sink = sink;
  }

  /**
   * A fresh value name with a prefix.
   *
   * @param prefix Readable prefix.
   * @returns A name unused so far.
   */
  fresh(prefix: string): string {
    let n = `${prefix}_${this.#counter++}`;
    while (this.#names.has(n)) n = `${prefix}_${this.#counter++}`;
    this.#names.add(n);
    return n;
  }

  /**
   * Declares a graph input.
   *
   * @param name Input name.
   * @param type Element type.
   * @param dims Shape (numbers or symbolic names).
   * @returns The name.
   */
  input(name: string, type: ElemTypeName, dims: Dim[]): string {
    this.#names.add(name);
    this.#inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /**
   * Declares a graph output.
   *
   * @param name Name of an existing value.
   * @param type Element type.
   * @param dims Shape.
   * @returns The name.
   */
  output(name: string, type: ElemTypeName, dims: Dim[]): string {
    this.#outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /**
   * Adds a constant tensor (a `Uint16Array` holds f16 bit patterns). Float and u8 tensors with
   * `external: true` are not
   * written into the model: they are listed in {@linkcode GraphBuilder.externals}
   * for the session to take by reference.
   *
   * @param name Initializer name.
   * @param data Its data (row-major).
   * @param dims Its shape.
   * @param options `external`: keep the data out of the model bytes.
   * @returns The name.
   */
  initializer(
    name: string,
    data: TensorData,
    dims: number[],
    options: { external?: boolean } = {},
  ): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new RangeError(`Initializer ${name}: ${data.length} values for shape [${dims}]`);
    }
    this.#names.add(name);
    const t = new ProtoWriter().packedInts(1, dims).int(2, elemTypeOf(data)).string(8, name);
    const externalKind = data instanceof Float32Array || data instanceof Uint8Array ||
      data instanceof Uint16Array;
    if (options.external && externalKind) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      let location: string, offset = 0;
      if (this.#sink) ({ location, offset } = this.#sink.write(name, bytes));
      else {
        location = `specdec_weight_${this.externals.size}.bin`;
        this.externals.set(name, { data, dims, location });
      }
      const entry = (k: string, v: string): ProtoWriter =>
        new ProtoWriter().string(1, k).string(2, v);
      t.message(13, entry("location", location));
      t.message(13, entry("offset", String(offset)));
      t.message(13, entry("length", String(data.byteLength)));
      t.int(14, 1);
    } else {
      t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    this.#graph.message(5, t);
    return name;
  }

  /**
   * Adds a node.
   *
   * @param opType Operator type (`MatMul`).
   * @param inputs Input names (`""` for an omitted optional input).
   * @param outputs Output names, or a count of fresh names to make.
   * @param attrs Attributes.
   * @param domain Operator domain (`""` for ai.onnx, `com.microsoft`).
   * @returns The output names.
   */
  node(
    opType: string,
    inputs: string[],
    outputs: string[] | number = 1,
    attrs: Record<string, AttrValue> = {},
    domain = "",
  ): string[] {
    const outs = typeof outputs === "number"
      ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
      : outputs;
    for (const o of outs) this.#names.add(o);
    const n = new ProtoWriter();
    for (const i of inputs) n.string(1, i);
    for (const o of outs) n.string(2, o);
    n.string(3, this.fresh(`n_${opType}`)).string(4, opType);
    for (const [k, v] of Object.entries(attrs)) n.message(5, attribute(k, v));
    if (domain) n.string(7, domain);
    this.#graph.message(1, n);
    return outs;
  }

  /**
   * Adds a single-output node.
   *
   * @param opType Operator type.
   * @param inputs Input names.
   * @param attrs Attributes.
   * @param domain Operator domain.
   * @param output Output name (fresh when omitted).
   * @returns The output name.
   */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    domain = "",
    output?: string,
  ): string {
    return this.node(opType, inputs, output === undefined ? 1 : [output], attrs, domain)[0]!;
  }

  /**
   * Serialises the model.
   *
   * @param opsets Opset imports by domain (default ai.onnx 21 and com.microsoft 1).
   * @returns `ModelProto` bytes.
   */
  toModel(opsets: Record<string, number> = { "": 21, "com.microsoft": 1 }): Uint8Array {
    // Field order does not matter in protobuf: name, inputs, outputs, then the
    // nodes and initializers already written.
    const graph = new ProtoWriter().string(2, this.name);
    for (const i of this.#inputs) graph.message(11, i);
    for (const o of this.#outputs) graph.message(12, o);
    graph.append(this.#graph);
    const model = new ProtoWriter().int(1, 10).string(2, "specdec").string(3, "0.1.0");
    model.message(7, graph);
    for (const [domain, version] of Object.entries(opsets)) {
      model.message(8, new ProtoWriter().string(1, domain).int(2, version));
    }
    return model.finish();
  }
}
