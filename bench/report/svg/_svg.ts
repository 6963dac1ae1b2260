/**
 * SVG primitives of the report's charts (text, axes, legends, colours).
 *
 * @module
 */

import type { BenchmarkResults, BenchMethod } from "../results.ts";

/** Colour of each method's bars and lines. */
export const COLORS: Record<BenchMethod, string> = {
  ar: "#7f7f7f",
  speculative: "#1f77b4",
  medusa: "#d62728",
  lookup: "#2ca02c",
  eagle: "#9467bd",
};

/** Legend name of each method. */
export const NAMES: Record<BenchMethod, string> = {
  ar: "autoregressive",
  speculative: "draft-target",
  medusa: "Medusa",
  lookup: "prompt lookup",
  eagle: "EAGLE",
};

/** The charts' subtitle: CPU, cores, ONNX Runtime, date. */
export function subtitle(results: BenchmarkResults): string {
  const date = results.date.slice(0, 10);
  return `${results.machine.cpuModel}, ${results.machine.cores} cores, ONNX Runtime ${results.machine.ortVersion}, ${date}${
    results.quick ? " (quick run)" : ""
  }`;
}

/** A legend entry. */
export interface LegendItem {
  /** Text. */
  label: string;
  /** Swatch colour. */
  color: string;
  /** Swatch shape. */
  kind: "box" | "line" | "diamond" | "dash";
}

/** Width a legend entry takes (swatch, gap, text at ~6.6 px per character). */
export function legendWidth(it: LegendItem): number {
  return 30 + it.label.length * 6.6;
}

/** Number of rows a legend needs within `maxWidth`. */
export function legendRows(items: LegendItem[], maxWidth: number): number {
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

/** Draws a legend from `(x0, y0)`, wrapping within `maxWidth`. */
export function legendRow(x0: number, y0: number, items: LegendItem[], maxWidth: number): string[] {
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

/** The plot background, horizontal grid lines with labels, and both axes. */
export function yAxis(
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
export function niceScale(maxValue: number): { max: number; step: number } {
  const raw = maxValue / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  return { max: Math.ceil(maxValue / step) * step, step };
}

/** The XML prolog, `<svg>` opening tag and white background. */
export function svgOpen(width: number, height: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`;
}

/** A `<text>` element (content escaped). */
export function text(
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

/** Escapes XML text and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** A coordinate rounded to 0.1. */
export function r(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** A value with up to two decimals, trailing zero dropped. */
export function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/0$/, "");
}
