// The owner's signature on the move-in page: drawn with a finger, a pen or the mouse on the
// canvas, and sent with the sign-off form as a PNG. Without a script the typed name is enough.
(function () {
  "use strict";
  var pad = document.getElementById("signature-pad");
  var field = document.getElementById("signature-data");
  if (!pad || !field || !pad.getContext) { return; }
  pad.hidden = false;
  var clear = document.getElementById("signature-clear");
  if (clear) { clear.hidden = false; }
  var ink = pad.getContext("2d");
  var drawn = false;
  var down = false;

  function fit() {
    var box = pad.getBoundingClientRect();
    pad.width = Math.round(box.width);
    pad.height = Math.round(box.height);
    ink.lineWidth = 2.5;
    ink.lineCap = "round";
    ink.strokeStyle = "#111";
  }

  function at(event) {
    var box = pad.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  fit();
  pad.addEventListener("pointerdown", function (event) {
    down = true;
    var p = at(event);
    ink.beginPath();
    ink.moveTo(p.x, p.y);
    pad.setPointerCapture(event.pointerId);
  });
  pad.addEventListener("pointermove", function (event) {
    if (!down) { return; }
    var p = at(event);
    ink.lineTo(p.x, p.y);
    ink.stroke();
    drawn = true;
  });
  ["pointerup", "pointercancel"].forEach(function (name) {
    pad.addEventListener(name, function () { down = false; });
  });
  if (clear) {
    clear.addEventListener("click", function () {
      ink.clearRect(0, 0, pad.width, pad.height);
      drawn = false;
    });
  }
  field.form.addEventListener("submit", function () {
    field.value = drawn ? pad.toDataURL("image/png") : "";
  });
}());
