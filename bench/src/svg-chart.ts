/**
 * A line chart as a standalone SVG document, no dependency: series of points, each point a median
 * with a min–max whisker, on linear axes starting at zero. Output is deterministic for equal input,
 * so charts regenerated from the same results compare equal.
 */

export interface ChartPoint {
  x: number;
  median: number;
  min: number;
  max: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  /** Drawn dashed (e.g. a variant of another series). */
  dashed?: boolean;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** The two small notes under the legend; by default they explain the median and min–max whiskers of runs. */
  notes?: [string, string];
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 40, right: 170, bottom: 50, left: 70 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fixed = (value: number) => String(Math.round(value * 10) / 10);

/** About five round tick values from 0 to at least `max` (1, 2 or 5 times a power of ten apart). */
function ticks(max: number): number[] {
  const top = max > 0 ? max : 1;
  const raw = top / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const count = Math.ceil(top / step - 1e-9);
  return Array.from({ length: count + 1 }, (_, i) => i * step);
}

const label = (value: number) => (Math.abs(value) >= 1000 ? value.toLocaleString('en-US') : String(Math.round(value * 1000) / 1000));

export function renderChart(chart: Chart): string {
  const points = chart.series.flatMap((series) => series.points).filter((p) => [p.x, p.median, p.min, p.max].every(Number.isFinite));
  const xTicks = ticks(Math.max(...points.map((p) => p.x), 0));
  const yTicks = ticks(Math.max(...points.map((p) => p.max), 0));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + (x / xTicks[xTicks.length - 1]!) * plotWidth;
  const sy = (y: number) => MARGIN.top + plotHeight - (y / yTicks[yTicks.length - 1]!) * plotHeight;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escape(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escape(chart.title)}</text>`,
  ];
  for (const y of yTicks) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${fixed(sy(y))}" y2="${fixed(sy(y))}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${fixed(sy(y) + 4)}" text-anchor="end">${label(y)}</text>`);
  }
  for (const x of xTicks) {
    out.push(`<line x1="${fixed(sx(x))}" x2="${fixed(sx(x))}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight + 5}" stroke="#333"/>`);
    out.push(`<text x="${fixed(sx(x))}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${label(x)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escape(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`);
  chart.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const valid = series.points.filter((p) => [p.x, p.median, p.min, p.max].every(Number.isFinite)).sort((a, b) => a.x - b.x);
    out.push(`<g data-series="${escape(series.name)}" stroke="${colour}" fill="${colour}">`);
    if (valid.length > 1) {
      const path = valid.map((p) => `${fixed(sx(p.x))},${fixed(sy(p.median))}`).join(' ');
      out.push(`<polyline points="${path}" fill="none" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    for (const p of valid) {
      const x = fixed(sx(p.x));
      out.push(`<line x1="${x}" x2="${x}" y1="${fixed(sy(p.min))}" y2="${fixed(sy(p.max))}"/>`);
      out.push(`<circle cx="${x}" cy="${fixed(sy(p.median))}" r="3.5"><title>${escape(`${series.name}: ${label(p.x)} → ${label(p.median)} (${label(p.min)}–${label(p.max)})`)}</title></circle>`);
    }
    const legendY = MARGIN.top + 10 + index * 20;
    out.push(`<line x1="${WIDTH - MARGIN.right + 15}" x2="${WIDTH - MARGIN.right + 40}" y1="${legendY}" y2="${legendY}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${WIDTH - MARGIN.right + 46}" y="${legendY + 4}" stroke="none" fill="#000">${escape(series.name)}</text>`);
    out.push('</g>');
  });
  const [firstNote, secondNote] = chart.notes ?? ['dots: median', 'bars: min–max over runs'];
  out.push(`<text x="${WIDTH - MARGIN.right + 15}" y="${HEIGHT - 30}" font-size="10" fill="#555">${escape(firstNote)}</text>`);
  out.push(`<text x="${WIDTH - MARGIN.right + 15}" y="${HEIGHT - 16}" font-size="10" fill="#555">${escape(secondNote)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
