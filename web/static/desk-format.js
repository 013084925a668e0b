// The composer's small formatting set, written as text (ES module): **fet**, _kursiv_, [text](https://…),
// "- " lists, "1. " lists, "> " quotes. toHtml makes the entry's HTML (the server sanitises it again), toText
// the text back from an entry's HTML (for an edit), formatter the toolbar's buttons.

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function inlineHtml(line) {
  return escapeHtml(line)
    .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2">$1</a>')
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[\s(])_(.+?)_(?=$|[\s).,:;!?])/g, "$1<em>$2</em>");
}

export function toHtml(text) {
  const blocks = text.replace(/\r\n/g, "\n").split(/\n\s*\n/).map((b) => b.trim()).filter(Boolean);
  return blocks.map((block) => {
    const lines = block.split("\n");
    if (lines.every((l) => /^[-*] /.test(l))) {
      return "<ul>" + lines.map((l) => `<li>${inlineHtml(l.slice(2))}</li>`).join("") + "</ul>";
    }
    if (lines.every((l) => /^\d+\. /.test(l))) {
      return "<ol>" + lines.map((l) => `<li>${inlineHtml(l.replace(/^\d+\. /, ""))}</li>`).join("") + "</ol>";
    }
    if (lines.every((l) => /^>/.test(l))) {
      return `<blockquote><p>${lines.map((l) => inlineHtml(l.replace(/^> ?/, ""))).join("<br>")}</p></blockquote>`;
    }
    return `<p>${lines.map(inlineHtml).join("<br>")}</p>`;
  }).join("");
}

export function toText(html) {
  const inline = (node) => [...node.childNodes].map((c) => {
    if (c.nodeType === Node.TEXT_NODE) return c.textContent;
    const inner = inline(c);
    switch (c.tagName) {
      case "BR": return "\n";
      case "STRONG": case "B": return `**${inner}**`;
      case "EM": case "I": return `_${inner}_`;
      case "A": return `[${inner}](${c.getAttribute("href")})`;
      case "P": return inner + "\n";
      default: return inner;
    }
  }).join("");
  const body = new DOMParser().parseFromString(html, "text/html").body; // inert: nothing runs or loads
  return [...body.childNodes].map((node) => {
    if (node.tagName === "UL") return [...node.children].map((li) => "- " + inline(li)).join("\n");
    if (node.tagName === "OL") return [...node.children].map((li, i) => `${i + 1}. ${inline(li)}`).join("\n");
    if (node.tagName === "BLOCKQUOTE") return inline(node).trim().split("\n").map((l) => "> " + l).join("\n");
    return node.nodeType === Node.TEXT_NODE ? node.textContent : inline(node);
  }).map((b) => b.trim()).filter(Boolean).join("\n\n");
}

// The toolbar of a textarea: format("bold" | "italic" | "link" | "list" | "quote") marks up the selection.
export function formatter(textarea, T) {
  return (kind) => {
    const { selectionStart: start, selectionEnd: end, value } = textarea;
    const picked = value.slice(start, end);
    let text;
    if (kind === "bold") text = `**${picked || T.bold}**`;
    else if (kind === "italic") text = `_${picked || T.italic}_`;
    else if (kind === "link") {
      const url = prompt(T.link_prompt, "https://");
      if (!url || !/^https?:\/\/\S+$/.test(url)) return;
      text = `[${picked || url}](${url})`;
    } else {
      const mark = kind === "list" ? "- " : "> ";
      text = (picked || "").split("\n").map((l) => mark + l).join("\n");
    }
    textarea.setRangeText(text, start, end, "end");
    textarea.dispatchEvent(new Event("input"));
    textarea.focus();
  };
}
