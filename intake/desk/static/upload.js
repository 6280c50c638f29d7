// The entry page's upload form: a file over the size limit is refused here, before it is sent (the server
// refuses it as well, and would only record it as too large without keeping it).
(function () {
  "use strict";
  var form = document.getElementById("attach-form");
  if (!form) { return; }
  var input = form.querySelector("input[type=file]");
  var message = form.querySelector(".error");
  var limit = parseInt(form.dataset.maxBytes, 10);
  form.addEventListener("submit", function (e) {
    var file = input.files[0];
    if (file && file.size > limit) {
      e.preventDefault();
      message.textContent = form.dataset.tooLarge;
      message.hidden = false;
    } else {
      message.hidden = true;
      form.querySelector("button[type=submit]").disabled = true;   // one upload at a time
    }
  });
}());
