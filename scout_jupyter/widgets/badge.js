// FreshnessBadge: a coloured pill with an icon and a word, so it reads without colour too.
// Every string is set with textContent: it is data, never markup.
function render({ model, el }) {
  const badge = document.createElement("span");
  const word = document.createElement("b");
  const words = document.createElement("span");
  badge.append(word, words);
  el.classList.add("scout-root");
  el.appendChild(badge);
  const update = () => {
    const state = model.get("freshness");
    badge.className = `scout-badge scout-badge--${state}`;
    badge.title = model.get("hover");
    word.textContent = model.get("label");
    words.textContent = model.get("words");
  };
  update();
  model.on("change", update);
  return () => model.off("change", update);
}
export default { render };
