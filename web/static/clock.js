// Times as the pages show them: in Europe/Stockholm, on a 24-hour clock, as the server writes them with Babel
// (ticker/i18n.py: when() "d MMMM y HH:mm", clock() "HH:mm"). lang: the page's language ("sv", "en"). Each
// returns a function of a time (an ISO string or a Date).
const ZONE = { timeZone: "Europe/Stockholm", hourCycle: "h23" };
// The Intl locale of a page's language.
export const locale = (lang) => (lang === "en" ? "en-GB" : "sv-SE");

// "22:37".
export function clock(lang) {
  const format = new Intl.DateTimeFormat(locale(lang), { hour: "2-digit", minute: "2-digit", ...ZONE });
  return (at) => format.format(new Date(at));
}

// "7 maj 2024 22:37", as the server's "d MMMM y HH:mm" writes it.
export function when(lang) {
  const format = new Intl.DateTimeFormat(locale(lang), {
    day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit", ...ZONE,
  });
  return (at) => {
    const p = {};
    for (const part of format.formatToParts(new Date(at))) p[part.type] = part.value;
    return `${p.day} ${p.month} ${p.year} ${p.hour}:${p.minute}`;
  };
}

// "7 maj kl. 22:37" (a long month), "7 maj 22:37" (a short one), with seconds when asked: the desk's stamps.
export function stamp(lang, { month = "long", second = false } = {}) {
  const format = new Intl.DateTimeFormat(locale(lang), {
    day: "numeric", month, hour: "2-digit", minute: "2-digit", ...(second ? { second: "2-digit" } : {}), ...ZONE,
  });
  return (at) => format.format(new Date(at));
}
