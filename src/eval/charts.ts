/** Charts as SVG strings, rendered server-side by ECharts (no browser needed; the report stays one self-contained file). */
import * as echarts from "echarts";

export function renderSvg(option: Record<string, unknown>, width = 640, height = 340): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: "sans-serif" }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

type Series = { name: string; points: [number, number][]; yAxisIndex?: number; mark?: { x: number; y: number; label: string } };

/** Lines over a numeric x axis; an optional second y axis; an optional marked point (e.g. the gold peak). */
export function lineChart(o: { title: string; xName: string; yName: string; y2Name?: string; series: Series[] }): string {
  return renderSvg({
    title: { text: o.title, left: "center", textStyle: { fontSize: 14 } },
    legend: { bottom: 0 },
    grid: { left: 60, right: o.y2Name ? 60 : 20, top: 40, bottom: 60 },
    xAxis: { type: "value", name: o.xName, nameLocation: "middle", nameGap: 25 },
    yAxis: [{ type: "value", name: o.yName, scale: true }, ...(o.y2Name ? [{ type: "value", name: o.y2Name, scale: true }] : [])],
    series: o.series.map((s) => ({
      name: s.name,
      type: "line",
      showSymbol: false,
      yAxisIndex: s.yAxisIndex ?? 0,
      data: s.points,
      ...(s.mark
        ? {
            markPoint: {
              symbol: "pin",
              symbolSize: 40,
              data: [{ coord: [s.mark.x, s.mark.y], value: s.mark.label }],
              label: { fontSize: 9 },
            },
          }
        : {}),
    })),
  });
}

/**
 * A curve through noisy points: sorted by x, cut into `bins` groups of (nearly) equal count, each
 * group's mean x and mean y. Points taken in training order jump back and forth along x (KL is not
 * monotonic in the step), so a line through them in that order scribbles; this one reads left to right.
 */
export function binnedCurve(points: readonly [number, number][], bins: number): [number, number][] {
  const sorted = [...points].sort((a, b) => a[0] - b[0]);
  const groups = Math.max(1, Math.min(bins, sorted.length));
  const out: [number, number][] = [];
  for (let g = 0; g < groups; g++) {
    const part = sorted.slice(Math.floor((g * sorted.length) / groups), Math.floor(((g + 1) * sorted.length) / groups));
    if (part.length === 0) continue;
    out.push([part.reduce((t, p) => t + p[0], 0) / part.length, part.reduce((t, p) => t + p[1], 0) / part.length]);
  }
  return out;
}

type PointSeries = { name: string; points: [number, number][]; yAxisIndex?: number; color: string };

/**
 * Measured points (small, faint) with a binned mean curve over each series, ordered by x; a vertical
 * line and a pin mark `mark` (e.g. the gold peak). Two y axes when the series' scales differ.
 */
export function pointsWithCurveChart(o: {
  title: string;
  xName: string;
  yName: string;
  y2Name?: string;
  series: PointSeries[];
  bins?: number;
  mark?: { x: number; y: number; label: string; yAxisIndex?: number };
}): string {
  const bins = o.bins ?? 8;
  const axisName = { nameLocation: "middle", nameGap: 40, nameTextStyle: { fontSize: 12 } };
  return renderSvg(
    {
      title: { text: o.title, left: "center", textStyle: { fontSize: 14 } },
      legend: { bottom: 0, textStyle: { fontSize: 11 } },
      grid: { left: 70, right: o.y2Name ? 70 : 20, top: 62, bottom: 75 }, // room under the title for the mark's label
      xAxis: {
        type: "value",
        name: o.xName,
        nameLocation: "middle",
        nameGap: 28,
        nameTextStyle: { fontSize: 12 },
        axisLabel: { fontSize: 11 },
      },
      yAxis: [
        { type: "value", name: o.yName, scale: true, axisLabel: { fontSize: 11 }, ...axisName },
        ...(o.y2Name
          ? [{ type: "value", name: o.y2Name, scale: true, axisLabel: { fontSize: 11 }, splitLine: { show: false }, ...axisName }]
          : []),
      ],
      series: o.series.flatMap((s, k) => [
        {
          name: `${s.name}: measured`,
          type: "scatter",
          symbolSize: 5,
          itemStyle: { color: s.color, opacity: 0.45 },
          yAxisIndex: s.yAxisIndex ?? 0,
          data: s.points,
        },
        {
          name: `${s.name}: binned mean`,
          type: "line",
          showSymbol: true,
          symbolSize: 6,
          lineStyle: { width: 2.5, color: s.color },
          itemStyle: { color: s.color },
          yAxisIndex: s.yAxisIndex ?? 0,
          data: binnedCurve(s.points, bins),
          ...(o.mark && k === o.series.length - 1
            ? {
                markLine: {
                  symbol: "none",
                  lineStyle: { type: "dashed", color: "#555" },
                  label: { formatter: o.mark.label, fontSize: 11, position: "insideStartTop" }, // along the line, inside the plot: clear of title, pin and ticks
                  data: [{ xAxis: o.mark.x }],
                },
                markPoint: {
                  symbol: "pin",
                  symbolSize: 38,
                  itemStyle: { color: s.color },
                  data: [{ coord: [o.mark.x, o.mark.y], value: "peak" }],
                  label: { fontSize: 9 },
                },
              }
            : {}),
        },
      ]),
    },
    720,
    380,
  );
}

export function barChart(o: { title: string; categories: string[]; series: { name: string; values: number[] }[]; yName: string }): string {
  return renderSvg(
    {
      title: { text: o.title, left: "center", textStyle: { fontSize: 14 } },
      legend: { bottom: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: 80 },
      xAxis: { type: "category", data: o.categories, axisLabel: { rotate: 20, fontSize: 10 } },
      yAxis: { type: "value", name: o.yName },
      series: o.series.map((s) => ({ name: s.name, type: "bar", data: s.values })),
    },
    720,
    360,
  );
}

/**
 * Vertical offsets (pixels) that keep point labels at least `gap` apart: labels are taken top to bottom
 * and each is pushed below the one before when it would touch it. (ECharts' own overlap handling does
 * not run when rendering on the server.)
 */
export function labelOffsets(ys: readonly number[], gap: number): number[] {
  const order = ys.map((y, i) => ({ y, i })).sort((a, b) => a.y - b.y || a.i - b.i);
  const offsets = new Array<number>(ys.length).fill(0);
  let last = Number.NEGATIVE_INFINITY;
  for (const { y, i } of order) {
    const placed = Math.max(y, last + gap);
    offsets[i] = placed - y;
    last = placed;
  }
  return offsets;
}

/** Named points on [0, 1]²: one series per point, so each has its colour and legend entry; labels that would overlap are moved apart. */
export function scatterChart(o: { title: string; xName: string; yName: string; points: { name: string; x: number; y: number }[] }): string {
  const [width, height, top, bottom] = [640, 340, 45, 75];
  // Pixel height of each point in the plot, top = 0.
  const dy = labelOffsets(
    o.points.map((p) => (1 - p.y) * (height - top - bottom)),
    17, // an 11 px label's line box is 16 px high
  );
  return renderSvg(
    {
      title: { text: o.title, left: "center", textStyle: { fontSize: 14 } },
      legend: { bottom: 0, textStyle: { fontSize: 11 } },
      grid: { left: 70, right: 30, top, bottom },
      xAxis: { type: "value", name: o.xName, nameLocation: "middle", nameGap: 28, min: 0, max: 1, nameTextStyle: { fontSize: 12 } },
      yAxis: { type: "value", name: o.yName, nameLocation: "middle", nameGap: 40, min: 0, max: 1, nameTextStyle: { fontSize: 12 } },
      series: o.points.map((p, i) => ({
        name: p.name,
        type: "scatter",
        symbolSize: 12,
        data: [{ value: [p.x, p.y], name: p.name }],
        label: { show: true, formatter: "{b}", position: "right", offset: [4, dy[i] as number], fontSize: 11 },
      })),
    },
    width,
    height,
  );
}
