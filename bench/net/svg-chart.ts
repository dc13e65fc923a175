/**
 * A hand-written SVG bar chart of the network figures relative to raw TCP: one block per figure,
 * one horizontal bar per system, on a logarithmic axis (the peers sit orders of magnitude apart).
 * Bars right of the 1x line are better than raw TCP, bars left of it worse.
 */
import { formatRatio, type NetRow } from './metrics.js';

const WIDTH = 960;
const LABEL_W = 120;
const PLOT_X = 330;
const PLOT_W = 520;
const BAR_H = 13;
const BAR_GAP = 3;
const BLOCK_GAP = 14;
const HEAD_H = 18;
/** Axis range, as powers of ten. */
const MIN_EXP = -4;
const MAX_EXP = 1;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function xOf(ratio: number): number {
  const e = Math.min(MAX_EXP, Math.max(MIN_EXP, Math.log10(ratio)));
  return PLOT_X + ((e - MIN_EXP) / (MAX_EXP - MIN_EXP)) * PLOT_W;
}

/** The chart for `rows` (rows without a ratio to raw TCP are left out). `subtitle` says where and when. */
export function renderRatioChart(rows: readonly NetRow[], subtitle: string): string {
  const shown = rows.filter((r) => r.vsTcp !== undefined && Number.isFinite(r.vsTcp) && r.vsTcp > 0);
  const systems = [...new Set(shown.map((r) => r.system))];
  const color = (s: string): string => PALETTE[systems.indexOf(s) % PALETTE.length]!;
  const metrics = [...new Set(shown.map((r) => `${r.group}\u0000${r.metric}`))];
  const out: string[] = [];
  let y = 64;
  for (const key of metrics) {
    const [group, metric] = key.split('\u0000') as [string, string];
    const block = shown.filter((r) => r.group === group && r.metric === metric);
    const first = block[0]!;
    const better = first.better === 'higher' ? 'higher is better' : 'lower is better, ratio = tcp / value';
    out.push(`<text x="10" y="${y + 12}" class="head">${escapeXml(`${first.title} (${first.unit}, ${better})`)}</text>`);
    y += HEAD_H;
    for (const r of block) {
      const x1 = xOf(r.vsTcp!);
      const x0 = xOf(10 ** MIN_EXP);
      out.push(`<text x="${PLOT_X - 8}" y="${y + BAR_H - 2}" class="sys">${escapeXml(r.system)}</text>`);
      out.push(`<rect x="${x0}" y="${y}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${BAR_H}" fill="${color(r.system)}"><title>${escapeXml(`${r.system}: ${r.value} ${r.unit}`)}</title></rect>`);
      out.push(`<text x="${(x1 + 4).toFixed(1)}" y="${y + BAR_H - 2}" class="val">${escapeXml(formatRatio(r.vsTcp!))}</text>`);
      y += BAR_H + BAR_GAP;
    }
    y += BLOCK_GAP;
  }
  const height = y + 10;
  const grid: string[] = [];
  for (let e = MIN_EXP; e <= MAX_EXP; e++) {
    const x = xOf(10 ** e);
    const label = e >= 0 ? `${10 ** e}x` : `${(10 ** e).toFixed(-e)}x`;
    grid.push(`<line x1="${x}" y1="48" x2="${x}" y2="${height - 10}" class="${e === 0 ? 'one' : 'grid'}"/>`);
    grid.push(`<text x="${x}" y="44" class="tick">${label}</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    '<style>.head{font-weight:bold;fill:#222}.sys{text-anchor:end;fill:#333}.val{fill:#333}.tick{text-anchor:middle;fill:#555}.grid{stroke:#ddd}.one{stroke:#444;stroke-dasharray:3 2}.title{font-size:14px;font-weight:bold}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="18" class="title">Relative to raw node:net TCP echo (1x, dashed), log scale — right of the line is better</text>`,
    `<text x="10" y="32" fill="#555">${escapeXml(subtitle)}</text>`,
    ...grid,
    ...out,
    `<text x="${LABEL_W}" y="${height - 2}" fill="#777" font-size="9">bars clipped at ${(10 ** MIN_EXP).toFixed(-MIN_EXP)}x and ${10 ** MAX_EXP}x</text>`,
    '</svg>',
    '',
  ].join('\n');
}
