// Conditional questions: show a question only when the answer it depends on says so.
// Without JavaScript every question shows, with a hint saying when to answer it; the server
// ignores answers to questions whose condition is not met either way. The operators mirror
// services/forms/conditions.py (is_met).
(function () {
  var form = document.querySelector("form[enctype='multipart/form-data']");
  if (!form) return;
  var groups = form.querySelectorAll("[data-show-if-field]");

  function number(text) {
    var clean = String(text || "").replace(/[\s\u00a0]/g, "").replace(",", ".");
    return clean === "" || isNaN(Number(clean)) ? null : Number(clean);
  }
  function isoDate(text) {
    var value = String(text || "").trim();
    var dotted = /^(\d{2})\.(\d{2})\.(\d{4})$/.exec(value);
    if (dotted) return dotted[3] + "-" + dotted[2] + "-" + dotted[1];
    return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : null;
  }
  function answer(source) {
    var choices = source.querySelectorAll("input[type='radio'], input[type='checkbox']");
    if (choices.length) {
      var checked = [];
      for (var i = 0; i < choices.length; i++) {
        if (choices[i].checked) checked.push(choices[i].value);
      }
      return { listed: true, checked: checked, answered: checked.length > 0 };
    }
    var inputs = source.querySelectorAll("input:not([type='file']), textarea");
    var text = inputs.length ? inputs[0].value : "";
    var filled = false;
    for (var j = 0; j < inputs.length; j++) {
      if (inputs[j].value.trim()) filled = true;
    }
    var isDate = inputs.length && inputs[0].type === "date";
    return { listed: false, text: text, isDate: isDate, answered: filled };
  }
  function met(group, source) {
    var op = group.dataset.showIfOp || "eq";
    var value = group.dataset.showIfValue;
    var given = answer(source);
    if (op === "answered") return given.answered;
    if (op === "not_answered") return !given.answered;
    if (given.listed) return op === "eq" && given.checked.indexOf(value) !== -1;
    var left = given.isDate ? isoDate(given.text) : number(given.text);
    var right = given.isDate ? isoDate(value) : number(value);
    if (left === null || right === null) return false;
    if (op === "eq") return left === right;
    if (op === "gt") return left > right;
    if (op === "gte") return left >= right;
    if (op === "lt") return left < right;
    if (op === "lte") return left <= right;
    return false;
  }
  function update() {
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i];
      var source = form.querySelector("[data-question='" + g.dataset.showIfField + "']");
      g.hidden = !source || source.hidden || !met(g, source);
    }
  }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
})();
