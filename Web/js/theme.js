// Light, dark or the system's choice (prefers-color-scheme), remembered in localStorage.
// style.css reads <html data-theme>: "light" or "dark" overrides the media query.
const KEY = "herald-theme";
const CHOICES = ["auto", "light", "dark"];

export function storedTheme(storage) {
  try {
    const v = storage.getItem(KEY);
    return CHOICES.includes(v) ? v : "auto";
  } catch {
    return "auto"; // storage refused (private mode): the system's choice
  }
}

export function applyTheme(choice, root = document.documentElement) {
  if (choice === "auto") delete root.dataset.theme;
  else root.dataset.theme = choice;
}

// The <select id="theme"> in the header: shows the stored choice and stores a new one.
export function setUpThemeSwitch(select, storage = localStorage) {
  const choice = storedTheme(storage);
  applyTheme(choice);
  select.value = choice;
  select.addEventListener("change", () => {
    applyTheme(select.value);
    try { storage.setItem(KEY, select.value); } catch { /* not remembered, still applied */ }
  });
}
