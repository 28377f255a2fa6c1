// Builders, not codes: the browser side of services/widgets.py.
//
// Wagtail draws StreamField blocks here (telepath); these widgets fill their lists from what
// the editor has on the page now: the questions above a question (form conditions), the
// workflow's states (workflow steps), or the options the server gave (staff groups, rule
// subjects). They read the blocks through the names Wagtail posts them under
// (<stream>-<i>-type, -id, -order, -deleted, -value-<field>), which is what the server reads
// too. What they post is what a typed code was; the server checks it and explains.
(function () {
  "use strict";
  if (!window.telepath) return;

  var live = []; // bound widgets on the page, refreshed when the blocks they read change

  // While every list is refreshed, the page's named inputs are read once (a form of many
  // questions has many lists, each reading every question).
  var indexed = null;
  function byName(name) {
    if (indexed) return indexed.get(name) || null;
    return document.querySelector('[name="' + CSS.escape(name) + '"]');
  }
  function withIndex(action) {
    indexed = new Map();
    document.querySelectorAll("[name]").forEach(function (element) {
      if (!indexed.has(element.name)) indexed.set(element.name, element);
    });
    try { action(); } finally { indexed = null; }
  }
  function valueOf(name) {
    var input = byName(name);
    return input ? input.value : "";
  }
  function format(template, value) {
    return String(template || "%s").replace("%s", value);
  }
  // A select's state is a list of the values chosen (what Django's widget formats).
  function single(state) {
    if (Array.isArray(state)) return state.length ? String(state[0]) : "";
    return state ? String(state) : "";
  }
  function applyAttributes(element, options) {
    var attributes = (options && options.attributes) || {};
    Object.keys(attributes).forEach(function (key) {
      element.setAttribute(key, attributes[key]);
    });
  }

  // The children of a StreamBlock or ListBlock at `prefix`, in the editor's order, without
  // the ones deleted (Wagtail keeps those, marked, until the page is saved).
  function sequence(prefix) {
    var count = byName(prefix + "-count");
    var items = [];
    if (!count) return items;
    for (var i = 0; i < Number(count.value); i++) {
      var p = prefix + "-" + i;
      var order = byName(p + "-order");
      if (!order || valueOf(p + "-deleted") === "1") continue;
      items.push({ prefix: p, order: Number(order.value), type: valueOf(p + "-type"),
                   id: valueOf(p + "-id") });
    }
    items.sort(function (a, b) { return a.order - b.order; });
    return items;
  }

  // --- sources --------------------------------------------------------------------------
  // Questions of the form a condition's widget belongs to, each with what a condition on it
  // needs: its block id (what is stored), label, type and answers.
  function questions(ownName, strings) {
    var match = /^(.*)-(\d+)-value-[a-z_]+$/.exec(ownName);
    if (!match) return { above: [], all: [] };
    var own = match[1] + "-" + match[2];
    var ownOrder = Number(valueOf(own + "-order"));
    var all = sequence(match[1]).map(function (item) {
      var label = valueOf(item.prefix + "-value-label").trim();
      var name = valueOf(item.prefix + "-value-name").trim();
      var answers = [];
      if (item.type === "yes_no") {
        answers = [["yes", strings.yes], ["no", strings.no]];
      } else if (item.type === "choice" || item.type === "multi_choice") {
        answers = sequence(item.prefix + "-value-choices").map(function (choice) {
          var text = valueOf(choice.prefix + "-value");
          return [text, text];
        }).filter(function (pair) { return pair[0]; });
      }
      return { ref: item.id || name, names: [item.id, name].filter(Boolean),
               label: label || name || "?", kind: item.type, answers: answers,
               above: item.order < ownOrder, self: item.prefix === own };
    });
    return {
      all: all,
      above: all.filter(function (q) { return q.above && !q.self && q.kind !== "file"; }),
    };
  }

  // The workflow's states, from its states stream (`field`): code, name, whether it ends.
  function states(field) {
    var russian = (document.documentElement.lang || "").indexOf("ru") === 0;
    return sequence(field).map(function (item) {
      var code = valueOf(item.prefix + "-value-code").trim();
      var label = valueOf(item.prefix + "-value-label_" + (russian ? "ru" : "en")).trim() ||
        valueOf(item.prefix + "-value-label_ru").trim();
      var terminal = byName(item.prefix + "-value-terminal");
      return { code: code, label: label ? label + " (" + code + ")" : code,
               terminal: !!(terminal && terminal.checked) };
    }).filter(function (state) { return state.code; });
  }

  // --- a list to choose one from --------------------------------------------------------
  function ChooserSelect(html, config) {
    this.html = html;
    this.config = config;
  }
  ChooserSelect.prototype.render = function (placeholder, name, id, initialState,
                                             parentCapabilities, options) {
    var holder = document.createElement("div");
    holder.innerHTML = this.html.replace(/__NAME__/g, name).replace(/__ID__/g, id).trim();
    var select = holder.querySelector("select");
    placeholder.replaceWith(select);
    applyAttributes(select, options);
    return new BoundChooser(select, name, this.config, initialState);
  };

  function BoundChooser(select, name, config, state) {
    var self = this;
    this.input = select;
    this.name = name;
    this.config = config;
    this.idForLabel = select.id;
    this.given = Array.prototype.map.call(select.options, function (option) {
      return [option.value, option.text];
    }).filter(function (pair) { return pair[0]; });
    this.value = single(state);
    this.signature = null;
    select.addEventListener("change", function () { self.value = select.value; });
    select.addEventListener("focus", function () { self.refresh(); });
    select.addEventListener("mousedown", function () { self.refresh(); });
    if (config.source) {
      // Filled with the rest of the page (what it reads may be drawn after it); until then
      // it shows the value it has.
      select.textContent = "";
      select.appendChild(new Option(config.blank || config.strings.choose, ""));
      if (this.value) select.appendChild(new Option("…", this.value));
      select.value = this.value;
    } else {
      this.refresh();
    }
    live.push(this);
    soon();
  }
  BoundChooser.prototype.choices = function () {
    var strings = this.config.strings;
    if (this.config.source === "questions-above") {
      return questions(this.name, strings).above.map(function (q) {
        return [q.ref, q.label, q.names];
      });
    }
    if (this.config.source === "states") {
      return states(this.config.field || "states").map(function (s) {
        return [s.code, s.terminal ? format(strings.ends, s.label) : s.label];
      });
    }
    return this.given;
  };
  BoundChooser.prototype.refresh = function () {
    var strings = this.config.strings;
    var when = this.config.shownWhen;
    if (when) {
      var field = this.input.closest("[data-contentpath]");
      var sibling = this.name.replace(/-[a-z_]+$/, "-" + when[0]);
      if (field) field.hidden = valueOf(sibling) !== when[1];
    }
    if (!this.config.source) {
      // The server's options (with their groups and data) stay; a value not among them is
      // added so that it is kept.
      var select = this.input;
      var current = this.value;
      if (!Array.prototype.some.call(select.options, function (o) { return o.value === ""; })) {
        select.insertBefore(new Option(this.config.blank || strings.choose, ""),
                            select.firstChild);
      }
      var extra = select.querySelector("option[data-missing]");
      var known = Array.prototype.some.call(select.options, function (option) {
        return option.value === current && !option.hasAttribute("data-missing");
      });
      if (extra && (extra.value !== current || known)) extra.remove();
      if (current && !known && !select.querySelector("option[data-missing]")) {
        var option = new Option(format(strings[this.config.missing], current), current);
        option.setAttribute("data-missing", "");
        select.appendChild(option);
      }
      select.value = current;
      return;
    }
    var choices = this.choices();
    var current = this.value;
    // A condition saved with the question's field name is shown as that question.
    choices.forEach(function (choice) {
      if (choice[2] && choice[2].indexOf(current) !== -1) current = choice[0];
    });
    this.value = current;
    var known = choices.some(function (choice) { return choice[0] === current; });
    var signature = JSON.stringify([choices, current, known]);
    if (signature === this.signature) return;
    this.signature = signature;
    var select = this.input;
    select.textContent = "";
    select.appendChild(new Option(this.config.blank || strings.choose, ""));
    choices.forEach(function (choice) { select.appendChild(new Option(choice[1], choice[0])); });
    if (current && !known) {
      select.appendChild(new Option(format(strings[this.config.missing], current), current));
    }
    select.value = current;
  };
  BoundChooser.prototype.getValue = function () { return this.input.value; };
  BoundChooser.prototype.getState = function () { return [this.input.value]; };
  BoundChooser.prototype.setState = function (state) {
    this.value = single(state);
    this.signature = null;
    this.refresh();
  };
  BoundChooser.prototype.setInvalid = function (invalid) {
    if (invalid) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  };
  BoundChooser.prototype.focus = function () { this.input.focus(); };
  BoundChooser.prototype.getValueForLabel = function () {
    var option = this.input.selectedOptions[0];
    return option && option.value ? option.text : "";
  };
  BoundChooser.prototype.getTextLabel = function () { return this.getValueForLabel(); };

  // --- several states, ticked -------------------------------------------------------------
  function ChooserCheckboxes(html, config) {
    this.html = html;
    this.config = config;
  }
  ChooserCheckboxes.prototype.render = function (placeholder, name, id, initialState,
                                                 parentCapabilities, options) {
    var holder = document.createElement("div");
    holder.innerHTML = this.html.replace(/__NAME__/g, name).replace(/__ID__/g, id).trim();
    var input = holder.querySelector("input");
    var group = document.createElement("div");
    group.className = "dgbox-chooser-checkboxes";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", this.config.label);
    group.id = id + "-group";
    applyAttributes(group, options);
    placeholder.replaceWith(input, group);
    return new BoundCheckboxes(input, group, name, this.config, initialState);
  };

  function split(text) {
    return String(text || "").split(",").map(function (code) { return code.trim(); })
      .filter(Boolean);
  }

  function BoundCheckboxes(input, group, name, config, state) {
    var self = this;
    this.input = input;
    this.group = group;
    this.name = name;
    this.config = config;
    this.idForLabel = null;
    this.signature = null;
    input.value = state || "";
    group.addEventListener("change", function () { self.collect(); });
    this.refresh();
    live.push(this);
  }
  BoundCheckboxes.prototype.collect = function () {
    var ticked = this.group.querySelectorAll("input[type='checkbox']:checked");
    this.input.value = Array.prototype.map.call(ticked, function (box) { return box.value; })
      .join(", ");
    this.signature = null;
  };
  BoundCheckboxes.prototype.refresh = function () {
    var strings = this.config.strings;
    var chosen = split(this.input.value);
    var choices = states(this.config.field || "states").map(function (s) {
      return [s.code, s.terminal ? format(strings.ends, s.label) : s.label];
    });
    chosen.forEach(function (code) {
      if (!choices.some(function (choice) { return choice[0] === code; })) {
        choices.push([code, format(strings[this.config.missing], code)]);
      }
    }, this);
    var signature = JSON.stringify([choices, chosen]);
    if (signature === this.signature) return;
    this.signature = signature;
    var group = this.group;
    var focused = document.activeElement && group.contains(document.activeElement) ?
      document.activeElement.value : null;
    group.textContent = "";
    choices.forEach(function (choice, index) {
      var id = group.id + "-" + index;
      var item = document.createElement("div");
      var box = document.createElement("input");
      var label = document.createElement("label");
      box.type = "checkbox";
      box.id = id;
      box.value = choice[0];
      box.checked = chosen.indexOf(choice[0]) !== -1;
      label.htmlFor = id;
      label.textContent = choice[1];
      item.append(box, " ", label);
      group.appendChild(item);
      if (focused === choice[0]) box.focus();
    });
  };
  BoundCheckboxes.prototype.getValue = function () { return this.input.value; };
  BoundCheckboxes.prototype.getState = function () { return this.input.value; };
  BoundCheckboxes.prototype.setState = function (state) {
    this.input.value = state || "";
    this.signature = null;
    this.refresh();
  };
  BoundCheckboxes.prototype.setInvalid = function (invalid) {
    if (invalid) this.group.setAttribute("aria-invalid", "true");
    else this.group.removeAttribute("aria-invalid");
  };
  BoundCheckboxes.prototype.focus = function () {
    var first = this.group.querySelector("input");
    if (first) first.focus();
  };
  BoundCheckboxes.prototype.getValueForLabel = function () { return this.input.value; };
  BoundCheckboxes.prototype.getTextLabel = function () { return this.input.value; };

  // --- the answer a condition compares with -----------------------------------------------
  // Next to a question list and an operator list (sibling fields of the same block): a list
  // of the question's answers (choice, yes/no), a text box (number, date), or nothing
  // ("is answered"). The operators the question's type allows are the only ones offered.
  function AnswerInput(html, config) {
    this.html = html;
    this.config = config;
  }
  AnswerInput.prototype.render = function (placeholder, name, id, initialState,
                                           parentCapabilities, options) {
    var holder = document.createElement("div");
    holder.innerHTML = this.html.replace(/__NAME__/g, name).replace(/__ID__/g, id).trim();
    var input = holder.querySelector("input");
    placeholder.replaceWith(input);
    applyAttributes(input, options);
    return new BoundAnswer(input, name, id, this.config, initialState);
  };

  function BoundAnswer(input, name, id, config, state) {
    this.input = input;
    this.name = name;
    this.id = id;
    this.config = config;
    this.idForLabel = id;
    this.select = null;
    this.signature = null;
    input.value = state || "";
    var base = name.replace(/-[a-z_]+$/, "-");
    this.questionName = base + config.questionField;
    this.opName = base + config.opField;
    live.push(this);
    // The question and operator lists are drawn before this field, maybe not yet in the page.
    soon();
  }
  BoundAnswer.prototype.subject = function () {
    // {kind, answers} of the question chosen in the same block.
    var chosen = valueOf(this.questionName);
    if (!chosen) return null;
    if (this.config.source === "questions-above") {
      var found = questions(this.name, this.config.strings).all.filter(function (q) {
        return q.names.indexOf(chosen) !== -1;
      })[0];
      return found ? { kind: found.kind, answers: found.answers } : { kind: "", answers: [] };
    }
    var select = byName(this.questionName);
    var option = select && select.selectedOptions && select.selectedOptions[0];
    if (!option) return { kind: "", answers: [] };
    var answers = [];
    try { answers = JSON.parse(option.dataset.answers || "[]"); } catch (e) { answers = []; }
    return { kind: option.dataset.kind || "", answers: answers };
  };
  BoundAnswer.prototype.filterOps = function (subject) {
    var ops = byName(this.opName);
    if (!ops) return;
    if (!ops.dataset.labels) {
      ops.dataset.labels = JSON.stringify(Array.prototype.map.call(ops.options, function (o) {
        return [o.value, o.text];
      }));
    }
    var original = JSON.parse(ops.dataset.labels);
    var allowed = subject && subject.kind ? this.config.ops[subject.kind] : null;
    var names = subject ? (this.config.opLabels[subject.kind === "yes_no" ? "choice" :
      subject.kind] || {}) : {};
    original.forEach(function (pair) {
      var option = Array.prototype.filter.call(ops.options, function (o) {
        return o.value === pair[0];
      })[0];
      if (!option) return;
      option.text = names[pair[0]] || pair[1];
      // An operator the question cannot take is hidden, unless it is the one saved (the
      // server then says why it does not fit).
      option.hidden = !!allowed && allowed.indexOf(pair[0]) === -1 && !option.selected;
    });
    var field = ops.closest("[data-contentpath]");
    if (field) field.hidden = !subject;
  };
  BoundAnswer.prototype.refresh = function () {
    var subject = this.subject();
    this.filterOps(subject);
    var op = valueOf(this.opName) || "eq";
    var mode = "none";
    if (subject && op !== "answered" && op !== "not_answered" &&
        op !== "true" && op !== "false" && op !== "empty") {
      mode = subject.answers.length && (op === "eq" || op === "ne" || op === "includes") ?
        "list" : "text";
    }
    var signature = JSON.stringify([mode, subject && subject.answers, this.input.value]);
    if (signature === this.signature) return;
    this.signature = signature;
    var field = this.input.closest("[data-contentpath]");
    if (field) field.hidden = mode === "none";
    if (mode === "list") {
      this.showList(subject.answers);
    } else {
      this.showText();
    }
  };
  BoundAnswer.prototype.showList = function (answers) {
    var self = this;
    var strings = this.config.strings;
    if (!this.select) {
      this.select = document.createElement("select");
      this.select.addEventListener("change", function () {
        self.input.value = self.select.value;
        self.signature = null;
      });
      this.input.after(this.select);
    }
    var select = this.select;
    var current = this.input.value;
    select.textContent = "";
    select.appendChild(new Option(strings.choose, ""));
    answers.forEach(function (pair) { select.appendChild(new Option(pair[1], pair[0])); });
    if (current && !answers.some(function (pair) { return pair[0] === current; })) {
      select.appendChild(new Option(format(strings.missing, current), current));
    }
    select.value = current;
    // The list is what the label and error messages point at while it is shown.
    this.input.hidden = true;
    this.input.removeAttribute("id");
    select.id = this.id;
    if (this.input.getAttribute("aria-describedby")) {
      select.setAttribute("aria-describedby", this.input.getAttribute("aria-describedby"));
    }
    select.hidden = false;
  };
  BoundAnswer.prototype.showText = function () {
    if (this.select) {
      this.select.hidden = true;
      this.select.removeAttribute("id");
    }
    this.input.id = this.id;
    this.input.hidden = false;
  };
  BoundAnswer.prototype.getValue = function () { return this.input.value; };
  BoundAnswer.prototype.getState = function () { return this.input.value; };
  BoundAnswer.prototype.setState = function (state) {
    this.input.value = state || "";
    this.signature = null;
    this.refresh();
  };
  BoundAnswer.prototype.setInvalid = function (invalid) {
    [this.input, this.select].forEach(function (element) {
      if (!element) return;
      if (invalid) element.setAttribute("aria-invalid", "true");
      else element.removeAttribute("aria-invalid");
    });
  };
  BoundAnswer.prototype.focus = function () {
    (this.select && !this.select.hidden ? this.select : this.input).focus();
  };
  BoundAnswer.prototype.getValueForLabel = function () { return this.input.value; };
  BoundAnswer.prototype.getTextLabel = function () { return this.input.value; };

  // --- keeping the lists current -----------------------------------------------------------
  // Typing a question or a state, adding, moving or deleting a block: refresh every list
  // (each one only redraws when what it shows changed).
  var pending = null;
  function refreshAll() {
    pending = null;
    live = live.filter(function (widget) { return widget.input.isConnected; });
    withIndex(function () {
      live.forEach(function (widget) { widget.refresh(); });
    });
  }
  function soon() {
    if (pending === null) pending = setTimeout(refreshAll, 60);
  }
  ["input", "change", "click"].forEach(function (type) {
    document.addEventListener(type, soon, true);
  });

  window.telepath.register("dgbox.widgets.ChooserSelect", ChooserSelect);
  window.telepath.register("dgbox.widgets.ChooserCheckboxes", ChooserCheckboxes);
  window.telepath.register("dgbox.widgets.AnswerInput", AnswerInput);
})();
