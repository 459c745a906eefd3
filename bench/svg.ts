/** Small hand-written SVG charts for BENCHMARKS.md: grouped bars and lines. */

const WIDTH = 640;
const HEIGHT = 320;
const MARGIN = { left: 70, right: 150, top: 40, bottom: 50 };
const COLORS = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#a463f2', '#97bbf5'];

export interface Series {
  readonly name: string;
  readonly values: readonly (number | null)[];
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function frame(title: string, yLabel: string, max: number, body: string[], legend: readonly string[]): string {
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const plotRight = WIDTH - MARGIN.right;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escape(title)}</text>`,
    `<text transform="translate(14 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = MARGIN.top + plotHeight - (plotHeight * i) / 4;
    parts.push(`<line x1="${MARGIN.left}" x2="${plotRight}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${Math.round((max * i) / 4)}</text>`);
  }
  parts.push(...body);
  legend.forEach((name, i) => {
    const y = MARGIN.top + 10 + i * 18;
    parts.push(`<rect x="${plotRight + 14}" y="${y - 9}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${plotRight + 32}" y="${y + 1}">${escape(name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Bars grouped by category, one bar per series. */
export function barChart(title: string, yLabel: string, categories: readonly string[], series: readonly Series[]): string {
  const max = niceMax(Math.max(0, ...series.flatMap((entry) => entry.values.map((value) => value ?? 0))));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const groupWidth = plotWidth / Math.max(categories.length, 1);
  const barWidth = (groupWidth * 0.8) / Math.max(series.length, 1);
  const body: string[] = [];
  categories.forEach((category, c) => {
    const x0 = MARGIN.left + c * groupWidth + groupWidth * 0.1;
    series.forEach((entry, s) => {
      const value = entry.values[c];
      if (value === null || value === undefined) return;
      const height = (plotHeight * value) / max;
      const x = x0 + s * barWidth;
      const y = MARGIN.top + plotHeight - height;
      body.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${height.toFixed(1)}" fill="${COLORS[s % COLORS.length]}"><title>${escape(`${entry.name} ${category}: ${value}`)}</title></rect>`);
    });
    const labelX = MARGIN.left + c * groupWidth + groupWidth / 2;
    body.push(`<text x="${labelX}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${escape(category)}</text>`);
  });
  return frame(title, yLabel, max, body, series.map((entry) => entry.name));
}

/** Lines over shared x values (drawn at even spacing, labelled with the values). */
export function lineChart(title: string, yLabel: string, xLabels: readonly string[], series: readonly Series[]): string {
  const max = niceMax(Math.max(0, ...series.flatMap((entry) => entry.values.map((value) => value ?? 0))));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const step = plotWidth / Math.max(xLabels.length - 1, 1);
  const body: string[] = [];
  xLabels.forEach((label, i) => {
    body.push(`<text x="${MARGIN.left + i * step}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${escape(label)}</text>`);
  });
  series.forEach((entry, s) => {
    const points = entry.values
      .map((value, i) => (value === null ? undefined : [MARGIN.left + i * step, MARGIN.top + plotHeight - (plotHeight * value) / max]))
      .filter((point): point is number[] => point !== undefined);
    const color = COLORS[s % COLORS.length];
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => p.map((n) => n.toFixed(1)).join(',')).join(' ')}"/>`);
    for (const [x, y] of points) body.push(`<circle cx="${x!.toFixed(1)}" cy="${y!.toFixed(1)}" r="3" fill="${color}"/>`);
  });
  return frame(title, yLabel, max, body, series.map((entry) => entry.name));
}
