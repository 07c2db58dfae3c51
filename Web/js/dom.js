// DOM helpers shared by the dashboard's views.
const SVG_NS = "http://www.w3.org/2000/svg";

// Builds elements from text only, so data from events can never become markup.
export function h(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") n.textContent = v;
    else if (k === "class") n.className = v;
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  n.append(...kids);
  return n;
}
// { value: "span.value" } -> { value: <span class="value"> }: the parts a row keeps updating.
export function parts(spec) {
  const out = {};
  for (const [name, sel] of Object.entries(spec)) {
    const [tag, cls] = sel.split(".");
    out[name] = h(tag, { class: cls });
  }
  return out;
}
// "greenhouse/humidity" may wrap after its "/", rather than inside a word.
export function breakable(text) {
  const out = [];
  String(text).split("/").forEach((part, i) => {
    if (i) out.push("/", document.createElement("wbr"));
    out.push(part);
  });
  return out;
}
export function svg(tag, attrs = {}) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  return n;
}
export function setText(n, t) { if (n.textContent !== t) n.textContent = t; }
