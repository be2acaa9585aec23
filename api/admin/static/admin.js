// Progressive enhancement only: every page works without it.
// On the question form, show the choice rows or the true/false boxes that
// match the chosen type.
(function () {
  "use strict";
  var kind = document.getElementById("kind");
  var choices = document.getElementById("choices-set");
  var tf = document.getElementById("tf-set");
  if (!kind || !choices || !tf) {
    return;
  }
  function sync() {
    var isTF = kind.value === "true_false";
    choices.hidden = isTF;
    tf.hidden = !isTF;
  }
  kind.addEventListener("change", sync);
  sync();
})();
