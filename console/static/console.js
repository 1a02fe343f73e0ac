// Roster console: the only script. The pages work without it; it adds the Copy buttons.
// Loaded from /assets (the Content-Security-Policy allows no inline script).
"use strict";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  // Plain http on another host is no secure context: fall back to a selected textarea.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  const done = document.execCommand("copy");
  document.body.removeChild(area);
  return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function announce(message) {
  const live = document.getElementById("live-status");
  if (live) live.textContent = message;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = "value" in source && source.tagName !== "PRE" ? source.value : source.textContent;
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  copyText(text).then(
    () => {
      button.textContent = "Copied";
      announce("Copied to the clipboard.");
    },
    () => {
      if (source.select) source.select();
      button.textContent = "Press Ctrl+C";
    },
  ).finally(() => {
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});

// Readonly fields select their whole value on focus, ready for a manual copy.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field.matches && field.matches("input[readonly]")) field.select();
});
