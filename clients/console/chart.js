// chart.js — small line charts drawn as inline SVG: one series over time, y from 0.
// No chart library: a path, a few gridlines and labels are all the campaign page needs,
// and this keeps the console free of a build step and of downloads.
// layout() is pure (tested under node); render() puts its result into the DOM.

const SVG = "http://www.w3.org/2000/svg";

// niceCeiling rounds a positive maximum up to 1, 2 or 5 × 10^k, so gridlines read well.
export function niceCeiling(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  const step = [1, 2, 5, 10].find((factor) => factor * power >= max);
  return step * power;
}

// layout places points [{t: ms, v: number}] in a width × height box with margins; returns the
// path, the dots and the y gridlines (value and position), all in SVG user units. A compare
// series (the even pace under spend so far) shares the axes and gets comparePath.
export function layout(points, { width = 560, height = 200, margin = 56, compare = [] } = {}) {
  const top = 10;
  const bottom = height - 24;
  const left = margin;
  const right = width - 10;
  const all = [...points, ...compare];
  const ceiling = niceCeiling(Math.max(0, ...all.map((point) => point.v)));
  const first = all.length ? Math.min(...all.map((point) => point.t)) : 0;
  const last = all.length ? Math.max(...all.map((point) => point.t)) : 0;
  const span = last - first;
  const x = (t) => (span > 0 ? left + ((t - first) / span) * (right - left) : (left + right) / 2);
  const y = (v) => bottom - (v / ceiling) * (bottom - top);
  const trace = (series) =>
    series.map((point, i) => `${i ? "L" : "M"}${x(point.t).toFixed(1)} ${y(point.v).toFixed(1)}`).join(" ");
  const dots = points.map((point) => ({ x: x(point.t), y: y(point.v), point }));
  const path = trace(points);
  const comparePath = trace(compare);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((share) => ({ value: share * ceiling, y: y(share * ceiling) }));
  return { path, comparePath, dots, grid, left, right, top, bottom, width, height };
}

function element(name, attributes = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

// render draws points into container as an accessible SVG image titled title, with a text
// summary as its description; formatValue writes y values and formatTime x values. compare,
// when given, is drawn as a dashed line on the same axes.
export function render(container, points, { title, summary, formatValue, formatTime, compare = [] }) {
  const box = layout(points, { compare });
  const id = `${container.id || "chart"}-svg`;
  const svg = element("svg", {
    viewBox: `0 0 ${box.width} ${box.height}`,
    role: "img",
    "aria-labelledby": `${id}-title ${id}-desc`,
    class: "chart",
  });
  svg.append(element("title", { id: `${id}-title` }, title));
  svg.append(element("desc", { id: `${id}-desc` }, summary));
  for (const line of box.grid) {
    svg.append(element("line", { x1: box.left, x2: box.right, y1: line.y, y2: line.y, class: "grid" }));
    svg.append(element("text", { x: box.left - 4, y: line.y + 4, class: "axis", "text-anchor": "end" }, formatValue(line.value)));
  }
  if (compare.length) svg.append(element("path", { d: box.comparePath, class: "line compare" }));
  if (points.length) {
    svg.append(element("path", { d: box.path, class: "line" }));
    for (const dot of box.dots) svg.append(element("circle", { cx: dot.x, cy: dot.y, r: 2.5, class: "dot" }));
    // Time labels at the first and last minute (one label when there is one minute).
    const ends = box.dots.length > 1 ? [box.dots[0], box.dots[box.dots.length - 1]] : box.dots;
    for (const [i, dot] of ends.entries()) {
      const anchor = ends.length === 1 ? "middle" : i === 0 ? "start" : "end";
      svg.append(element("text", { x: dot.x, y: box.height - 6, class: "axis", "text-anchor": anchor }, formatTime(dot.point.t)));
    }
  }
  container.replaceChildren(svg);
}
