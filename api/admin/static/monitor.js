// The monitor page: follow the stream of rows (Server-Sent Events under the
// admin session cookie) and update the table in place. Text only.
(function () {
  "use strict";
  var table = document.getElementById("monitor");
  if (!table || !window.EventSource) {
    return;
  }
  var live = document.getElementById("live");
  function fmt(iso) {
    if (!iso) {
      return "—";
    }
    return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  }
  var es = new EventSource(table.getAttribute("data-events"));
  es.addEventListener("student", function (ev) {
    var r = JSON.parse(ev.data);
    var row = table.querySelector('tr[data-student-id="' + CSS.escape(r.student_id) + '"]');
    if (!row) {
      return;
    }
    row.querySelector(".m-status").textContent = r.status;
    row.querySelector(".m-answered").textContent = String(r.answered);
    row.querySelector(".m-deadline").textContent = fmt(r.deadline);
    row.querySelector(".m-saved").textContent = fmt(r.last_saved_at);
    row.setAttribute("data-updated", String(Date.now()));
  });
  es.addEventListener("exam", function (ev) {
    document.getElementById("exam-status").textContent = JSON.parse(ev.data).status;
  });
  es.onopen = function () { live.textContent = "Live."; };
  es.onerror = function () { live.textContent = "Reconnecting…"; };
}());
