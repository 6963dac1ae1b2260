/**
 * The benchmark report's charts as standalone SVG, drawn by our own code:
 * `speedup.svg` (measured speedup per method and K, with the predicted S as
 * markers) and `acceptance.svg` (per-position acceptance rate).
 *
 * @module
 */

import {
  type BenchmarkResults,
  type BenchMethod,
  distinct,
  speedupModel,
  summarize,
} from "./report_model.ts";

/** Both charts of the report, as SVG documents. */
export interface ReportCharts {
  /** Speedup over autoregressive by method and K (greedy, code prompts). */
  speedup: string;
  /** Per-position acceptance rate by method (greedy, code prompts). */
  acceptance: string;
}

const COLORS: Record<BenchMethod, string> = {
  ar: "#7f7f7f",
  speculative: "#1f77b4",
  medusa: "#d62728",
  lookup: "#2ca02c",
};

const NAMES: Record<BenchMethod, string> = {
  ar: "autoregressive",
  speculative: "draft-target",
  medusa: "Medusa",
  lookup: "prompt lookup",
};

/**
 * Draws the report's two charts from benchmark results.
 *
 * @param results The measured results.
 * @returns The SVG documents.
 *
 * @example Drawing charts from a results file
 * ```ts ignore
 * import { renderCharts } from "./report_svg.ts";
 * const results = JSON.parse(await Deno.readTextFile("results/benchmark_results.json"));
 * const { speedup } = renderCharts(results);
 * await Deno.writeTextFile("/tmp/speedup.svg", speedup);
 * ```
 */
export function renderCharts(results: BenchmarkResults): ReportCharts {
  return { speedup: speedupChart(results), acceptance: acceptanceChart(results) };
}

interface Bar {
  label: string;
  method: BenchMethod;
  value: number;
  predicted: number | undefined;
}

function speedupChart(results: BenchmarkResults): string {
  const bars: Bar[] = [];
  const ar = summarize(results, { method: "ar", temperature: 0, kind: "code" });
  if (ar !== undefined) bars.push({ label: "AR", method: "ar", value: 1, predicted: undefined });
  for (const method of ["speculative", "lookup"] as const) {
    for (const k of distinct(results, method, "k")) {
      const m = speedupModel(results, { method, k, temperature: 0, kind: "code" });
      if (m === undefined) continue;
      const short = method === "speculative" ? "DT" : "PL";
      bars.push({ label: `${short} K=${k}`, method, value: m.measured, predicted: m.predicted });
    }
  }
  for (const tree of distinct(results, "medusa", "tree")) {
    const m = speedupModel(results, { method: "medusa", tree, temperature: 0, kind: "code" });
    if (m === undefined) continue;
    bars.push({
      label: `Medusa ${tree}`,
      method: "medusa",
      value: m.measured,
      predicted: m.predicted,
    });
  }

  const methods = [...new Set(bars.map((b) => b.method))];
  const legend: LegendItem[] = methods.map((method) => ({
    label: NAMES[method],
    color: COLORS[method],
    kind: "box",
  }));
  if (bars.some((b) => b.predicted !== undefined)) {
    legend.push({ label: "predicted S = E / (K·c + V)", color: "#000", kind: "diamond" });
  }
  legend.push({ label: "break-even (1×)", color: "#000", kind: "dash" });

  const width = Math.max(720, 120 + bars.length * 44);
  const rows = legendRows(legend, width - 94);
  const m = { left: 70, right: 24, top: 72 + 18 * rows, bottom: 92 };
  const height = 400 + m.top;
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const maxValue = Math.max(1.2, ...bars.map((b) => Math.max(b.value, b.predicted ?? 0)));
  const { max, step } = niceScale(maxValue * 1.08);
  const y = (v: number): number => m.top + plotH - (v / max) * plotH;
  const slot = bars.length > 0 ? plotW / bars.length : plotW;
  const barW = Math.min(32, slot * 0.7);

  const out: string[] = [];
  out.push(svgOpen(width, height));
  out.push(text(width / 2, 26, "Speedup over autoregressive decoding (greedy, code prompts)", {
    size: 17,
    anchor: "middle",
    weight: "bold",
  }));
  out.push(text(width / 2, 46, subtitle(results), { size: 12, anchor: "middle", fill: "#444" }));
  out.push(...yAxis(m.left, m.top, plotW, plotH, max, step, (v) => `${fmt(v)}×`));
  out.push(text(18, m.top + plotH / 2, "speedup (tokens/s ÷ autoregressive tokens/s)", {
    size: 12,
    anchor: "middle",
    rotate: true,
  }));
  // The break-even line: below it speculation is slower than plain decoding.
  out.push(
    `<line x1="${m.left}" y1="${r(y(1))}" x2="${m.left + plotW}" y2="${
      r(y(1))
    }" stroke="#000" stroke-width="1" stroke-dasharray="5,4"/>`,
  );
  bars.forEach((b, i) => {
    const cx = m.left + slot * (i + 0.5);
    const top = y(b.value);
    out.push(
      `<rect x="${r(cx - barW / 2)}" y="${r(top)}" width="${r(barW)}" height="${
        r(m.top + plotH - top)
      }" fill="${COLORS[b.method]}"><title>${esc(`${b.label}: ${fmt(b.value)}×`)}</title></rect>`,
    );
    out.push(text(cx, top - 5, `${b.value.toFixed(2)}`, { size: 10, anchor: "middle" }));
    if (b.predicted !== undefined) {
      const py = y(b.predicted);
      out.push(
        `<path d="M${r(cx)} ${r(py - 6)} L${r(cx + 6)} ${r(py)} L${r(cx)} ${r(py + 6)} L${
          r(cx - 6)
        } ${r(py)} Z" fill="#fff" stroke="#000" stroke-width="1.5"><title>${
          esc(`${b.label}: predicted ${fmt(b.predicted)}×`)
        }</title></path>`,
      );
    }
    out.push(
      `<text x="${r(cx)}" y="${
        m.top + plotH + 14
      }" font-size="11" text-anchor="end" transform="rotate(-40 ${r(cx)} ${m.top + plotH + 14})">${
        esc(b.label)
      }</text>`,
    );
  });
  out.push(...legendRow(m.left, 64, legend, plotW));
  if (bars.length === 0) {
    out.push(text(width / 2, m.top + plotH / 2, "no runs", { size: 14, anchor: "middle" }));
  }
  out.push("</svg>\n");
  return out.join("\n");
}

interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

function acceptanceChart(results: BenchmarkResults): string {
  const series: Series[] = [];
  const pick = (method: BenchMethod, field: "k" | "tree"): number | undefined =>
    distinct(results, method, field).at(-1);
  const addSeries = (method: BenchMethod, label: string, k?: number, tree?: number) => {
    const filter = {
      method,
      temperature: 0,
      kind: "code" as const,
      ...(k !== undefined ? { k } : {}),
      ...(tree !== undefined ? { tree } : {}),
    };
    const s = summarize(results, filter);
    if (s === undefined || s.perPosition.length === 0) return;
    const points = s.perPosition
      .map((p, i): [number, number] => [i + 1, p])
      .filter((pt) => Number.isFinite(pt[1]));
    if (points.length > 0) series.push({ label, color: COLORS[method], points });
  };
  const kDT = pick("speculative", "k");
  if (kDT !== undefined) addSeries("speculative", `draft-target K=${kDT}`, kDT);
  const tree = results.settings.headlineTree ?? pick("medusa", "tree");
  if (tree !== undefined) addSeries("medusa", `Medusa (${tree}-node tree)`, undefined, tree);
  const kPL = pick("lookup", "k");
  if (kPL !== undefined) addSeries("lookup", `prompt lookup K=${kPL}`, kPL);

  const legend: LegendItem[] = series.map((s) => ({
    label: s.label,
    color: s.color,
    kind: "line",
  }));
  const width = 760;
  const m = { left: 70, right: 24, top: 72 + 18 * legendRows(legend, width - 94), bottom: 60 };
  const height = 380 + m.top;
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const maxX = Math.max(2, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const x = (v: number): number => m.left + ((v - 1) / (maxX - 1)) * plotW;
  const y = (v: number): number => m.top + plotH - v * plotH;

  const out: string[] = [];
  out.push(svgOpen(width, height));
  out.push(text(width / 2, 26, "Acceptance rate by draft position (greedy, code prompts)", {
    size: 17,
    anchor: "middle",
    weight: "bold",
  }));
  out.push(text(width / 2, 46, subtitle(results), { size: 12, anchor: "middle", fill: "#444" }));
  out.push(...yAxis(m.left, m.top, plotW, plotH, 1, 0.2, (v) => `${Math.round(v * 100)}%`));
  out.push(text(18, m.top + plotH / 2, "accepted / checked at this position", {
    size: 12,
    anchor: "middle",
    rotate: true,
  }));
  for (let i = 1; i <= maxX; i++) {
    out.push(
      `<line x1="${r(x(i))}" y1="${m.top + plotH}" x2="${r(x(i))}" y2="${
        m.top + plotH + 5
      }" stroke="#000"/>`,
    );
    out.push(text(x(i), m.top + plotH + 19, String(i), { size: 11, anchor: "middle" }));
  }
  out.push(
    text(
      m.left + plotW / 2,
      height - 16,
      "draft position (1 = first proposed token after the last accepted one)",
      {
        size: 12,
        anchor: "middle",
      },
    ),
  );
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? "M" : "L"}${r(x(p[0]))} ${r(y(p[1]))}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
    for (const [px, py] of s.points) {
      out.push(
        `<circle cx="${r(x(px))}" cy="${r(y(py))}" r="4" fill="${s.color}"><title>${
          esc(`${s.label}, position ${px}: ${(100 * py).toFixed(1)}%`)
        }</title></circle>`,
      );
    }
  }
  out.push(
    ...legendRow(m.left, 64, legend, plotW),
  );
  if (series.length === 0) {
    out.push(text(width / 2, m.top + plotH / 2, "no runs", { size: 14, anchor: "middle" }));
  }
  out.push("</svg>\n");
  return out.join("\n");
}

function subtitle(results: BenchmarkResults): string {
  const date = results.date.slice(0, 10);
  return `${results.machine.cpuModel}, ${results.machine.cores} cores, ONNX Runtime ${results.machine.ortVersion}, ${date}${
    results.quick ? " (quick run)" : ""
  }`;
}

interface LegendItem {
  label: string;
  color: string;
  kind: "box" | "line" | "diamond" | "dash";
}

/** Width a legend entry takes (swatch, gap, text at ~6.6 px per character). */
function legendWidth(it: LegendItem): number {
  return 30 + it.label.length * 6.6;
}

/** Number of rows a legend needs within `maxWidth`. */
function legendRows(items: LegendItem[], maxWidth: number): number {
  let rows = items.length > 0 ? 1 : 0, x = 0;
  for (const it of items) {
    if (x > 0 && x + legendWidth(it) > maxWidth) {
      rows++;
      x = 0;
    }
    x += legendWidth(it);
  }
  return rows;
}

function legendRow(x0: number, y0: number, items: LegendItem[], maxWidth: number): string[] {
  const out: string[] = [];
  let x = x0;
  let y = y0;
  for (const it of items) {
    if (x > x0 && x - x0 + legendWidth(it) > maxWidth) {
      x = x0;
      y += 18;
    }
    if (it.kind === "box") {
      out.push(`<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${it.color}"/>`);
    } else if (it.kind === "line") {
      out.push(
        `<line x1="${x - 2}" y1="${y - 3}" x2="${x + 14}" y2="${
          y - 3
        }" stroke="${it.color}" stroke-width="2.5"/>`,
      );
      out.push(`<circle cx="${x + 6}" cy="${y - 3}" r="3.5" fill="${it.color}"/>`);
    } else if (it.kind === "diamond") {
      out.push(
        `<path d="M${x + 6} ${y - 9} L${x + 12} ${y - 3} L${x + 6} ${y + 3} L${x} ${
          y - 3
        } Z" fill="#fff" stroke="#000" stroke-width="1.5"/>`,
      );
    } else {
      out.push(
        `<line x1="${x - 2}" y1="${y - 3}" x2="${x + 16}" y2="${
          y - 3
        }" stroke="#000" stroke-dasharray="5,4"/>`,
      );
    }
    out.push(text(x + 18, y + 1, it.label, { size: 12 }));
    x += legendWidth(it);
  }
  return out;
}

function yAxis(
  left: number,
  top: number,
  plotW: number,
  plotH: number,
  max: number,
  step: number,
  label: (v: number) => string,
): string[] {
  const out: string[] = [];
  out.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fafafa" stroke="none"/>`,
  );
  for (let v = 0; v <= max + step / 1000; v += step) {
    const yy = top + plotH - (v / max) * plotH;
    out.push(`<line x1="${left}" y1="${r(yy)}" x2="${left + plotW}" y2="${r(yy)}" stroke="#ddd"/>`);
    out.push(text(left - 8, yy + 4, label(v), { size: 11, anchor: "end" }));
  }
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#000"/>`);
  out.push(
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${
      top + plotH
    }" stroke="#000"/>`,
  );
  return out;
}

/** A "nice" axis maximum and tick step (1, 2, 2.5 or 5 times a power of ten). */
function niceScale(maxValue: number): { max: number; step: number } {
  const raw = maxValue / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  return { max: Math.ceil(maxValue / step) * step, step };
}

function svgOpen(width: number, height: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`;
}

function text(
  x: number,
  y: number,
  content: string,
  o: {
    size?: number;
    anchor?: "start" | "middle" | "end";
    weight?: string;
    fill?: string;
    rotate?: boolean;
  } = {},
): string {
  const attrs = [
    `x="${r(x)}"`,
    `y="${r(y)}"`,
    `font-size="${o.size ?? 12}"`,
    `text-anchor="${o.anchor ?? "start"}"`,
    `fill="${o.fill ?? "#000"}"`,
  ];
  if (o.weight !== undefined) attrs.push(`font-weight="${o.weight}"`);
  if (o.rotate === true) attrs.push(`transform="rotate(-90 ${r(x)} ${r(y)})"`);
  return `<text ${attrs.join(" ")}>${esc(content)}</text>`;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function r(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/0$/, "");
}
