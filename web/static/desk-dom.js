// Building the desk's elements (ES module).

// el("p", {className: "note", textContent: "…"}, child, …).
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export function button(text, className, onClick) {
  const b = el("button", { type: "button", className, textContent: text });
  b.addEventListener("click", onClick);
  return b;
}
