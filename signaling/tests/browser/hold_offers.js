// Injected before app.js by tests/browser.rs: while `window.__holdOffers` is true, server `offer`
// frames are held back (in order) until `window.__releaseOffers()`, so a client offer can be made
// to cross a server offer (glare) deterministically.
(() => {
  const Native = window.WebSocket;
  const held = [];
  window.__holdOffers = false;
  window.__heldOffers = () => held.length;
  window.__releaseOffers = () => {
    window.__holdOffers = false;
    const due = held.splice(0);
    for (const deliver of due) deliver();
    return due.length;
  };
  window.WebSocket = class extends Native {
    get onmessage() {
      return super.onmessage;
    }
    set onmessage(handler) {
      if (typeof handler !== "function") {
        super.onmessage = handler;
        return;
      }
      super.onmessage = (ev) => {
        let type = null;
        try {
          type = JSON.parse(ev.data).type;
        } catch {
          type = null;
        }
        if (type === "offer" && window.__holdOffers) held.push(() => handler.call(this, ev));
        else handler.call(this, ev);
      };
    }
  };
})();
