// One EventSource for the whole page; views subscribe with live.on(fn),
// which returns the function that unsubscribes them.

const listeners = new Set();
const dot = document.getElementById("live-dot");
let source = null;

function connect() {
  source = new EventSource("/api/events");
  source.onopen = () => dot?.classList.add("on");
  source.onerror = () => dot?.classList.remove("on"); // EventSource reconnects by itself
  for (const type of ["session.created", "session.updated", "session.source_deleted", "status.changed"]) {
    source.addEventListener(type, (e) => {
      let event;
      try {
        event = JSON.parse(e.data);
      } catch {
        return;
      }
      for (const fn of [...listeners]) {
        try {
          fn(event);
        } catch (err) {
          console.error(err);
        }
      }
    });
  }
}

export const live = {
  on(fn) {
    if (!source) connect();
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};
