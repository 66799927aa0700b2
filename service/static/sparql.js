// Starts YASGUI on /sparql. A separate file because the Content-Security-Policy forbids inline
// scripts. Everything YASGUI would fetch from elsewhere is switched off: the endpoint is this
// service, the endpoint catalogue lists only it, the LOV class/property autocompleters are removed
// and prefixes come from YASGUI's bundled list (prefixCcApi unset), never from prefix.cc.
(function () {
  "use strict";
  var node = document.getElementById("yasgui");
  var configNode = document.getElementById("kg-sparql-config");
  if (!node || !configNode || typeof window.Yasgui !== "function") {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var endpoint = new URL(node.getAttribute("data-endpoint") || "/sparql", window.location.href).href;
  var Yasgui = window.Yasgui;

  // Autocompleters that call Linked Open Vocabularies (class, property) are dropped.
  Yasgui.Yasqe.defaults.autocompleters = ["variables", "prefixes"];
  Yasgui.Yasqe.defaults.prefixCcApi = null;
  if (Yasgui.defaults.requestConfig) {
    Yasgui.defaults.requestConfig.endpoint = endpoint;
  }

  // Named queries rely on the predeclared prefixes; show their declarations in the editor so the
  // text is a complete query anyone can copy elsewhere.
  function withPrefixes(text) {
    var lines = [];
    Object.keys(config.prefixes || {}).forEach(function (name) {
      var used = new RegExp("(^|[\\s(/^,;|])" + name + ":", "m").test(text);
      var declared = new RegExp("PREFIX\\s+" + name + ":", "i").test(text);
      if (used && !declared) {
        lines.push("PREFIX " + name + ": <" + config.prefixes[name] + ">");
      }
    });
    return lines.length ? lines.join("\n") + "\n" + text : text;
  }

  var queries = config.queries || [];
  var initial = config.query || (queries.length ? withPrefixes(queries[0].text) : "SELECT * WHERE { ?s ?p ?o } LIMIT 10");

  var yasgui = new Yasgui(node, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    persistenceId: "outsourcing-kg-sparql",
    endpointCatalogueOptions: {
      getData: function () { return [{ endpoint: endpoint }]; },
      keys: []
    },
    corsProxy: undefined,
    yasqe: { value: initial, autocompleters: ["variables", "prefixes"], prefixCcApi: null }
  });

  function show(text) {
    var tab = yasgui.getTab();
    if (tab) {
      tab.setEndpoint(endpoint);
      tab.setQuery(text);
    }
  }
  // A saved session from an earlier visit must not hide a query given in the address.
  show(config.query || (yasgui.getTab() && yasgui.getTab().getQuery()) || initial);

  var list = document.getElementById("named-queries");
  if (list) {
    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-index]");
      if (!button) { return; }
      var q = queries[Number(button.getAttribute("data-index"))];
      if (q) { show(withPrefixes(q.text)); }
    });
  }
  var plain = document.getElementById("plain-query");
  if (plain) { plain.hidden = true; }
  window.kgYasgui = yasgui;
})();
