// The lesson page's player: resume where the family stopped, and send heartbeats
// while the video plays (when it starts, every LESSON_HEARTBEAT_SECONDS, on pause,
// at the end and when the page is hidden). A heartbeat says where the player is and
// how many seconds it really played since the previous one (seeks left out); the
// server counts at most the real time between heartbeats, so this script only
// reports, it decides nothing. Texts come from data attributes (translated).
(function () {
  "use strict";
  var video = document.getElementById("lesson-video");
  if (!video) return;

  var resumeAt = parseFloat(video.dataset.resumeAt || "0");
  function resume() {
    if (resumeAt > 0 && isFinite(video.duration) && resumeAt < video.duration - 1) {
      video.currentTime = resumeAt;
    }
  }
  if (video.readyState >= 1) resume();
  else video.addEventListener("loadedmetadata", resume, {once: true});

  var url = video.dataset.progressUrl;
  var form = document.getElementById("progress-form");
  if (!url || !form) return;
  var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var status = document.getElementById("lesson-progress");
  var bar = document.getElementById("lesson-progress-bar");
  var percentText = document.getElementById("lesson-progress-percent");
  var everyMs = 1000 * (parseInt(video.dataset.heartbeatSeconds, 10) || 10);

  var played = 0; // seconds played since the last heartbeat the server answered
  var lastTime = video.currentTime;
  var sending = false;
  var again = false;

  video.addEventListener("timeupdate", function () {
    var now = video.currentTime;
    var step = now - lastTime;
    lastTime = now;
    // Small forward steps are playback; a jump (a seek) or a step back is not watching.
    if (!video.seeking && step > 0 && step < 1.5 * Math.max(video.playbackRate, 1)) {
      played += step;
    }
  });
  video.addEventListener("seeking", function () { lastTime = video.currentTime; });
  video.addEventListener("seeked", function () { lastTime = video.currentTime; });

  function show(data) {
    if (data.percent === undefined) return;
    bar.value = data.percent;
    bar.textContent = data.percent + "%";
    percentText.textContent = data.percent + "%";
    if (data.completed && status.textContent.trim() !== status.dataset.completedText) {
      status.textContent = status.dataset.completedText;
    }
  }

  function send(options) {
    if (sending) { again = true; return; }
    sending = true;
    var watched = played;
    played = 0;
    var body = new URLSearchParams({
      position: video.currentTime.toFixed(2),
      watched: watched.toFixed(2),
    });
    fetch(url, {
      method: "POST",
      body: body,
      headers: {"X-CSRFToken": token},
      credentials: "same-origin",
      keepalive: Boolean(options && options.leaving),
    })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(show)
      .catch(function () {
        played += watched; // not counted yet: sent with the next heartbeat
        status.textContent = status.dataset.errorText;
      })
      .then(function () {
        sending = false;
        if (again) { again = false; send(); }
      });
  }

  var timer = null;
  video.addEventListener("playing", function () {
    send();
    if (timer === null) timer = setInterval(send, everyMs);
  });
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    send();
  }
  video.addEventListener("pause", stop);
  video.addEventListener("ended", stop);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && !video.paused) send({leaving: true});
  });
})();
