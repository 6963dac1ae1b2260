/**
 * `speedupChart`: `speedup.svg`, the measured speedup per method and setting
 * (greedy, code prompts, f32), with the predicted S as markers.
 *
 * @module
 */

import { sweepSettings } from "../best_setting.ts";
import type { BenchmarkResults, BenchMethod } from "../results.ts";
import { speedupModel } from "../speedup_model.ts";
import { distinct, summarize } from "../summarize.ts";
import {
  COLORS,
  esc,
  fmt,
  type LegendItem,
  legendRow,
  legendRows,
  NAMES,
  niceScale,
  r,
  subtitle,
  svgOpen,
  text,
  yAxis,
} from "./_svg.ts";

interface Bar {
  label: string;
  method: BenchMethod;
  value: number;
  predicted: number | undefined;
}

/** Draft-target's or Medusa's lookup-branch bars (EAGLE's are among its settings). */
function lookupBranchBars(results: BenchmarkResults, method: "speculative" | "medusa"): Bar[] {
  const bars: Bar[] = [];
  for (const filter of sweepSettings(results, method)) {
    if ((filter.lookup ?? 0) === 0) continue;
    const m = speedupModel(results, filter);
    if (m === undefined) continue;
    const shape = method === "speculative" ? `DT K=${filter.k}` : `Medusa ${filter.tree}`;
    const drafter = filter.drafterWeights !== undefined ? ` ${filter.drafterWeights}` : "";
    bars.push({
      label: `${shape}${drafter} +L${filter.lookup}`,
      method,
      value: m.measured,
      predicted: m.predicted,
    });
  }
  return bars;
}

/**
 * Draws the speedup chart.
 *
 * @param results The benchmark results.
 * @returns The SVG document.
 */
export function speedupChart(results: BenchmarkResults): string {
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
    if (method === "speculative") bars.push(...lookupBranchBars(results, method));
  }
  for (const filter of sweepSettings(results, "eagle")) {
    const m = speedupModel(results, filter);
    if (m === undefined) continue;
    bars.push({
      label: (filter.tree !== undefined ? `EAGLE tree ${filter.tree}` : `EAGLE K=${filter.k}`) +
        (filter.drafterWeights !== undefined ? ` ${filter.drafterWeights}` : "") +
        ((filter.lookup ?? 0) > 0 ? ` +L${filter.lookup}` : ""),
      method: "eagle",
      value: m.measured,
      predicted: m.predicted,
    });
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
  bars.push(...lookupBranchBars(results, "medusa"));

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
