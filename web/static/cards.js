// Link cards (ticker/media/cards.py): a provider's link on a line of its own is shown as a static card — our own
// thumbnail, the title and the author — and the provider's player loads only when the reader clicks "Innehållet
// visas från YouTube – klicka för att visa". Until then the page asks nothing of any other origin. The markup is
// web/templates/_link_card.html's; fillCards makes the same for live entries. An ES module, imported by live.js.

const PLAYER_ALLOW = "autoplay; encrypted-media; picture-in-picture; fullscreen";

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// The consent button's text for a card, from the page's strings (T.card_consent names {provider}).
const consent = (T, card) => T.card_consent.replace("{provider}", card.provider_name);

// One card, as _link_card.html renders it. base: the origin of our thumbnails ("" on our own pages); newTab: the
// link opens a new tab (a partner's page).
export function cardNode(card, { T, base = "", newTab = false }) {
  const figure = el("figure", { className: "link-card" });
  figure.dataset.provider = card.provider;
  if (card.player) figure.dataset.player = card.player;
  const link = el("a", { className: "card-link", href: card.url, rel: "noopener nofollow ugc" });
  if (newTab) link.target = "_blank";
  if (card.thumbnail) {
    const { url, width, height } = card.thumbnail;
    link.append(el("img", { className: "card-thumb", src: (url.startsWith("/") ? base : "") + url, alt: "",
      width, height, loading: "lazy" }));
  }
  const text = el("span", { className: "card-text" },
    el("span", { className: "card-provider", textContent: card.provider_name }), " ",
    el("span", { className: "card-title", textContent: card.title }));
  if (card.author) text.append(" ", el("span", { className: "card-author", textContent: card.author }));
  link.append(text);
  figure.append(link);
  if (card.player) figure.append(el("button", { type: "button", className: "card-play", textContent: consent(T, card) }));
  return figure;
}

// The paragraph that holds only a link to url (the server makes a card's link a paragraph of its own).
function paragraphOf(body, url) {
  for (const a of body.querySelectorAll("p > a")) {
    const p = a.parentElement;
    if (a.getAttribute("href") === url && p.children.length === 1 && p.textContent.trim() === a.textContent.trim()) {
      return p;
    }
  }
  return null;
}

// Put each of an entry's cards in place of its link's paragraph in body (an entry's .body, already filled).
export function fillCards(body, cards, options) {
  for (const card of cards || []) {
    const p = paragraphOf(body, card.url);
    if (p) p.replaceWith(cardNode(card, options));
  }
}

// Make the cards under root playable: show their buttons (hidden for pages without JavaScript) and, on a click,
// put the provider's player in place of the card. One listener on root serves the cards live entries add too.
export function enableCards(root) {
  for (const button of root.querySelectorAll(".card-play[hidden]")) button.hidden = false;
  if (root.ticker_cards) return;
  root.ticker_cards = true;
  root.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest(".card-play");
    const figure = button && button.closest(".link-card");
    if (!figure || !figure.dataset.player) return;
    const title = figure.querySelector(".card-title");
    const player = el("iframe", { className: "card-player", src: figure.dataset.player, allow: PLAYER_ALLOW,
      allowFullscreen: true, referrerPolicy: "strict-origin-when-cross-origin",
      title: (title ? title.textContent : "") || figure.dataset.provider });
    figure.classList.add("playing");
    figure.replaceChildren(player);
    player.focus();
  });
}
