// Filling a page's words (ticker/i18n.py): "{n} nya uppdateringar" with {n: 3}; a name without a value is left
// empty. The one template filler of the reader, the embed and the desk.
export const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
