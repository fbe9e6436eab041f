/** A line chart as a standalone SVG file: enough for a bench to show a curve, with no plotting dependency. */
export interface ChartSeries {
  name: string;
  points: Array<[x: number, y: number]>;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** Powers of ten on the y axis: for latencies spanning milliseconds to seconds. */
  logY?: boolean;
}

const width = 760;
const height = 420;
const margin = { left: 70, right: 190, top: 40, bottom: 50 };
const colours = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function lineChartSvg(chart: LineChart): string {
  const points = chart.series.flatMap((series) => series.points).filter(([, y]) => Number.isFinite(y));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => (chart.logY ? Math.log10(Math.max(y, 0.1)) : y));
  const [xMin, xMax] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  const [yMin, yMax] = chart.logY
    ? [Math.floor(Math.min(...ys, 0)), Math.ceil(Math.max(...ys, 1))]
    : [0, niceCeiling(Math.max(...ys, 1))];
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const toX = (x: number) => margin.left + ((x - xMin) / (xMax - xMin || 1)) * plotWidth;
  const toY = (y: number) => {
    const value = chart.logY ? Math.log10(Math.max(y, 0.1)) : y;
    return margin.top + plotHeight - ((value - yMin) / (yMax - yMin || 1)) * plotHeight;
  };
  const yTicks = chart.logY
    ? Array.from({ length: yMax - yMin + 1 }, (_, index) => 10 ** (yMin + index))
    : Array.from({ length: 6 }, (_, index) => (yMax * index) / 5);
  const xTicks = Array.from({ length: 6 }, (_, index) => xMin + ((xMax - xMin) * index) / 5);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(chart.title)}</text>`,
    ...yTicks.map(
      (tick) =>
        `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${toY(tick)}" y2="${toY(tick)}" stroke="#ddd"/>` +
        `<text x="${margin.left - 6}" y="${toY(tick) + 4}" text-anchor="end">${formatTick(tick)}</text>`,
    ),
    ...xTicks.map(
      (tick) =>
        `<text x="${toX(tick)}" y="${margin.top + plotHeight + 18}" text-anchor="middle">${formatTick(tick)}</text>`,
    ),
    `<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#444"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">${escape(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`,
    ...chart.series.map((series, index) => {
      const colour = colours[index % colours.length]!;
      const finite = series.points.filter(([, y]) => Number.isFinite(y));
      const path = finite.map(([x, y]) => `${toX(x).toFixed(1)},${toY(y).toFixed(1)}`).join(' ');
      const legendY = margin.top + 10 + index * 18;
      const markers =
        finite.length <= 30
          ? finite.map(([x, y]) => `<circle cx="${toX(x)}" cy="${toY(y)}" r="3" fill="${colour}"/>`).join('')
          : '';
      return (
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path}"/>${markers}` +
        `<line x1="${width - margin.right + 12}" x2="${width - margin.right + 32}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>` +
        `<text x="${width - margin.right + 38}" y="${legendY + 4}">${escape(series.name)}</text>`
      );
    }),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((step) => step * magnitude).find((candidate) => candidate >= value)!;
}

function formatTick(value: number): string {
  if (value >= 1_000_000) return `${value / 1_000_000}M`;
  if (value >= 10_000) return `${Math.round(value / 1_000)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
