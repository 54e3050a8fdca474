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

export function scatterChart(o: { title: string; xName: string; yName: string; points: { name: string; x: number; y: number }[] }): string {
  return renderSvg({
    title: { text: o.title, left: "center", textStyle: { fontSize: 14 } },
    grid: { left: 60, right: 30, top: 40, bottom: 50 },
    xAxis: { type: "value", name: o.xName, nameLocation: "middle", nameGap: 25, min: 0, max: 1 },
    yAxis: { type: "value", name: o.yName, min: 0, max: 1 },
    series: [
      {
        type: "scatter",
        symbolSize: 14,
        data: o.points.map((p) => ({ value: [p.x, p.y], name: p.name })),
        label: { show: true, formatter: "{b}", position: "right", fontSize: 11 },
      },
    ],
  });
}
