/**
 * `acceptanceChart`: `acceptance.svg`, the acceptance rate by draft position
 * per method (greedy, code prompts, f32).
 *
 * @module
 */

import type { BenchmarkResults, BenchMethod } from "../results.ts";
import { bestSetting } from "../best_setting.ts";
import { distinct, summarize } from "../summarize.ts";
import {
  COLORS,
  esc,
  type LegendItem,
  legendRow,
  legendRows,
  r,
  subtitle,
  svgOpen,
  text,
  yAxis,
} from "./_svg.ts";

interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

/**
 * Draws the acceptance chart.
 *
 * @param results The benchmark results.
 * @returns The SVG document.
 */
export function acceptanceChart(results: BenchmarkResults): string {
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
  const eagle = bestSetting(results, "eagle");
  if (eagle !== undefined) {
    addSeries("eagle", `EAGLE ${eagle.name}`, eagle.filter.k, eagle.filter.tree);
  }

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
