// Reports how far a parent has watched an online lesson (every 15 s while playing,
// and on pause/end). Texts come from data attributes so they stay translated.
(function () {
  "use strict";
  var video = document.getElementById("lesson-video");
  var form = document.getElementById("progress-form");
  if (!video || !form) return;
  var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var status = document.getElementById("lesson-progress");
  var last = 0;
  function send() {
    var seconds = Math.floor(video.currentTime);
    if (seconds <= last) return;
    last = seconds;
    var body = new URLSearchParams({seconds: String(seconds)});
    fetch(video.dataset.progressUrl, {
      method: "POST", body: body, headers: {"X-CSRFToken": token}, credentials: "same-origin",
    })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.percent !== undefined) {
          status.textContent = data.completed ? status.dataset.completedText : data.percent + "%";
        }
      });
  }
  setInterval(function () { if (!video.paused) send(); }, 15000);
  video.addEventListener("pause", send);
  video.addEventListener("ended", send);
})();
