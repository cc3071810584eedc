// bertkit serve web page: plain JS over the same JSON routes any client uses.
"use strict";

const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("bertkit-api-key") || "";
keyInput.addEventListener("change", () => {
  localStorage.setItem("bertkit-api-key", keyInput.value);
  examplesShown = false;
  start();
});

async function call(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (keyInput.value) headers["Authorization"] = "Bearer " + keyInput.value;
  const response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function showError(element, error) {
  element.textContent = String(error.message || error);
  element.classList.add("error");
}

function svgPath(values, width, height, cls) {
  const path = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  path.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${(height - 4 - v * (height - 8)).toFixed(1)}`).join(" "));
  path.setAttribute("class", cls);
  return path;
}

function drawCurve(probs) {
  const svg = $("qa-curve");
  svg.replaceChildren(svgPath(probs.start, 600, 160, "start"), svgPath(probs.end, 600, 160, "end"));
}

async function ask() {
  const result = $("qa-result"), box = $("qa-highlight");
  result.classList.remove("error");
  result.textContent = "…";
  const context = $("qa-context").value;
  try {
    const answer = await call("/answer", { question: $("qa-question").value, context, top_k: 3, token_probabilities: true });
    box.replaceChildren();
    // "no answer": still show the best span, marked as a guess the model's null threshold rejected
    const span = answer.no_answer ? (answer.candidates || []).find((c) => c.text && c.start >= 0) : answer;
    if (answer.no_answer) {
      result.textContent = span
        ? `No answer at the model's null threshold; best span: ${span.text}  (p = ${span.probability.toFixed(2)})`
        : "No answer in this context";
    } else {
      result.textContent = `${answer.text}  (p = ${answer.probability.toFixed(2)})`;
    }
    if (span) {
      const mark = document.createElement("mark");
      mark.className = answer.no_answer ? "guess" : "answer";
      mark.textContent = context.slice(span.start, span.end);
      box.append(context.slice(0, span.start), mark, context.slice(span.end));
    } else {
      box.append(context);
    }
    drawCurve(answer.token_probabilities);
  } catch (error) {
    showError(result, error);
  }
}

async function classify() {
  const result = $("clf-result"), tokens = $("clf-tokens");
  result.classList.remove("error");
  result.textContent = "…";
  try {
    const out = await call("/predict", { inputs: $("clf-text").value, explain: true });
    const best = out.predictions[0];
    result.textContent = `${best.label} (${(best.score * 100).toFixed(1)}%)`;
    const { tokens: pieces, weights, method } = out.explanation;
    const top = Math.max(...weights.map(Math.abs)) || 1;
    tokens.title = method === "occlusion"
      ? "blue: the label's log-odds drop without the token; red: they rise (occlusion)"
      : "attention-pooling weight of each token";
    tokens.replaceChildren(...pieces.map((piece, i) => {
      const span = document.createElement("span");
      const share = Math.abs(weights[i]) / top;
      span.textContent = piece;
      span.title = weights[i].toFixed(3);
      span.style.background = weights[i] >= 0
        ? `rgba(25, 118, 210, ${share.toFixed(3)})`
        : `rgba(211, 47, 47, ${share.toFixed(3)})`;
      span.style.color = share > 0.55 ? "#fff" : "#1d2330";
      return span;
    }));
  } catch (error) {
    showError(result, error);
  }
}

async function compare() {
  const body = $("sim-table").querySelector("tbody");
  body.replaceChildren();
  for (const pooling of ["cls", "mean", "max", "mean_sqrt_len"]) {
    const row = body.insertRow();
    row.insertCell().textContent = pooling;
    const cell = row.insertCell(), barCell = row.insertCell();
    try {
      const [score] = await call("/similarity", { inputs: { source_sentence: $("sim-a").value, sentences: [$("sim-b").value] }, pooling });
      cell.textContent = score.toFixed(3);
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = `${Math.max(0, score) * 100}%`;
      barCell.append(bar);
    } catch (error) {
      showError(cell, error);
    }
  }
}

async function tag() {
  const result = $("tag-result"), box = $("tag-highlight");
  result.classList.remove("error");
  result.textContent = "…";
  const text = $("tag-text").value;
  try {
    const entities = await call("/tag", { inputs: text });
    result.textContent = entities.length
      ? entities.map((e) => `${e.text} (${e.type}, ${e.score.toFixed(2)})`).join(" · ")
      : "No entities found";
    const parts = [];
    let at = 0;
    for (const e of entities) {  // in text order, character offsets into the text
      parts.push(text.slice(at, e.start));
      const mark = document.createElement("mark");
      mark.className = "entity";
      mark.dataset.type = e.type;
      mark.title = `${e.type} (${e.score.toFixed(3)})`;
      mark.textContent = text.slice(e.start, e.end);
      const label = document.createElement("sup");
      label.textContent = e.type;
      mark.append(label);
      parts.push(mark);
      at = e.end;
    }
    parts.push(text.slice(at));
    box.replaceChildren(...parts);
  } catch (error) {
    showError(result, error);
  }
}

const PANELS = { qa: ["qa-panel", ask], classify: ["clf-panel", classify], embed: ["sim-panel", compare], tag: ["tag-panel", tag] };
let examplesShown = false;

async function start() {
  const status = $("status");
  try {
    const info = await call("/info");
    const loaded = Object.keys(info.models);
    status.textContent = info.ready ? `ready · ${loaded.join(", ")} · v${info.version}` : "loading models…";
    for (const [model, [panel]] of Object.entries(PANELS)) $(panel).hidden = !loaded.includes(model);
    if (!info.ready) {
      setTimeout(start, 1000);
      return;
    }
    if (!examplesShown) {  // the prefilled examples' results, without a click
      examplesShown = true;
      await Promise.all(Object.entries(PANELS).filter(([model]) => loaded.includes(model)).map(([, [, run]]) => run()));
    }
  } catch (error) {
    status.textContent = String(error.message || error);
  }
}

$("qa-ask").addEventListener("click", ask);
$("clf-run").addEventListener("click", classify);
$("sim-run").addEventListener("click", compare);
$("tag-run").addEventListener("click", tag);
$("qa-question").addEventListener("keydown", (e) => { if (e.key === "Enter") ask(); });
$("clf-text").addEventListener("keydown", (e) => { if (e.key === "Enter") classify(); });
$("tag-text").addEventListener("keydown", (e) => { if (e.key === "Enter") tag(); });
start();
