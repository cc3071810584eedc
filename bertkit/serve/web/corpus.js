// bertkit serve web page, "Ask over the corpus" panel: POST /answer without a context
// (served with `bertkit serve --index DIR [--rerank DIR]`); shown only when an index is served.
"use strict";

(function () {
  const el = (id) => document.getElementById(id);

  async function post(path, body) {
    const headers = { "Content-Type": "application/json" };
    const key = el("api-key") && el("api-key").value;
    if (key) headers["Authorization"] = "Bearer " + key;
    const response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function passageRow(p, best) {
    const li = document.createElement("li");
    const head = document.createElement("div");
    head.className = "muted";
    const rerank = p.rerank_score === null ? "" : ` · rerank ${p.rerank_score.toFixed(3)}`;
    head.textContent = `${p.passage_id} · search ${p.retrieval_score.toFixed(3)}${rerank} · span ${p.score.toFixed(2)}`;
    const text = document.createElement("div");
    text.className = "context";
    if (p.answer !== null && p.start >= 0) {  // the passage's own answer: highlighted (the best one solid)
      const mark = document.createElement("mark");
      mark.className = best ? "answer" : "guess";
      mark.textContent = p.text.slice(p.start, p.end);
      text.append(p.text.slice(0, p.start), mark, p.text.slice(p.end));
    } else {
      text.textContent = p.text;
    }
    li.append(head, text);
    return li;
  }

  async function askCorpus() {
    const result = el("corpus-result"), list = el("corpus-passages");
    result.classList.remove("error");
    result.textContent = "…";
    try {
      const answer = await post("/answer", { question: el("corpus-question").value, passages: 3 });
      result.textContent = answer.no_answer
        ? `No answer in the ${answer.passages.length} passages read`
        : `${answer.text}  (document ${answer.doc_id}, characters ${answer.start}–${answer.end}, score ${answer.score.toFixed(2)})`;
      list.replaceChildren(...answer.passages.map((p) => passageRow(p, p.passage_id === answer.passage_id)));
    } catch (error) {
      result.textContent = String(error.message || error);
      result.classList.add("error");
    }
  }

  async function init() {
    try {
      const served = await post("/rerank/info");
      if (!served.index) return;
      el("corpus-panel").hidden = false;
      el("corpus-note").textContent = served.rerank ? "passages reranked by the served reranker" : "dense search only (no reranker served)";
      el("corpus-ask").addEventListener("click", askCorpus);
    } catch (error) {
      // an older server, or a key not yet given: the panel stays hidden
    }
  }

  init();
})();
