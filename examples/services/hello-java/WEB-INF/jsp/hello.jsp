<%@ page contentType="application/json; charset=UTF-8" session="false" trimDirectiveWhitespaces="true"
    import="java.nio.file.*, java.util.*" %><%!
  static String json(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
%><%
  // The instance context from base/runtime.sh; the process environment when run outside Berth.
  Map<String, String> context = new TreeMap<>();
  Path file = Paths.get("/run/berth/context.env");
  if (Files.isReadable(file)) {
    for (String line : Files.readAllLines(file)) {
      int eq = line.indexOf('=');
      if (eq > 0) context.put(line.substring(0, eq), line.substring(eq + 1));
    }
  } else {
    System.getenv().forEach((k, v) -> { if (k.startsWith("BERTH_")) context.put(k, v); });
  }
  StringJoiner fields = new StringJoiner(",", "{", "}");
  context.forEach((k, v) -> fields.add(json(k) + ":" + json(v)));
  out.print("{\"app\":\"hello-java\",\"java\":" + json(System.getProperty("java.version"))
      + ",\"context\":" + fields + "}\n");
%>
