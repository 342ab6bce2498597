#!/bin/sh
# The app files land in /srv/app; Tomcat serves them as the root context.
test -f /srv/app/WEB-INF/web.xml
ln -sfn /srv/app "$CATALINA_BASE/webapps/ROOT"

# Start Tomcat once, as the service user: it compiles the JSPs (load-on-startup) into work/, which the image keeps,
# so containers skip the compiler (about 0.5 s of every start). A deploy error fails the build here.
setpriv --reuid=app --regid=app --init-groups -- "$CATALINA_HOME/bin/catalina.sh" run > /tmp/warmup.log 2>&1 &
pid=$!
tries=0
until grep -q 'Server startup in' /tmp/warmup.log; do
  kill -0 "$pid" && [ $((tries += 1)) -le 600 ] || { cat /tmp/warmup.log; exit 1; }
  sleep 0.1
done
kill "$pid"
wait "$pid" || true
if grep SEVERE /tmp/warmup.log; then exit 1; fi
ls "$CATALINA_BASE/work/Catalina/localhost/ROOT/org/apache/jsp/WEB_002dINF/jsp/"*.class
rm -rf /tmp/warmup.log /tmp/hsperfdata_app
