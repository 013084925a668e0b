// Building the desk's elements (ES module).

// el("p", {className: "note", textContent: "…"}, child, …).
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// Put li (data-id = id) into list, whose items are newest (highest id) first.
export function placeNewestFirst(list, li, id) {
  for (const other of list.children) {
    if (Number(other.dataset.id) < id) return list.insertBefore(li, other);
  }
  list.append(li);
}

export function button(text, className, onClick) {
  const b = el("button", { type: "button", className, textContent: text });
  b.addEventListener("click", onClick);
  return b;
}
