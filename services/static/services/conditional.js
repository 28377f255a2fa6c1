// Conditional questions: show a question only when the answer it depends on is chosen.
// Without JavaScript every question shows, with a hint saying when to answer it; the server
// ignores answers to questions whose condition is not met either way.
(function () {
  var form = document.querySelector("form[enctype='multipart/form-data']");
  if (!form) return;
  var groups = form.querySelectorAll("[data-show-if-field]");
  function chosen(name, value) {
    var inputs = form.querySelectorAll("input[name='" + name + "']");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].checked && inputs[i].value === value) return true;
    }
    return false;
  }
  function update() {
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i];
      var source = form.querySelector("[data-question='" + g.dataset.showIfField + "']");
      var sourceHidden = source && source.hidden;
      g.hidden = sourceHidden || !chosen(g.dataset.showIfField, g.dataset.showIfValue);
    }
  }
  form.addEventListener("change", update);
  update();
})();
