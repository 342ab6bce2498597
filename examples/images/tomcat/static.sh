#!/bin/sh
export DEBIAN_FRONTEND=noninteractive
apt-get update
# Not the tomcat10 package: it is a systemd service (pulls systemd, a tomcat user, /etc/tomcat10).
# tomcat10-common has catalina.sh, libtomcat10-java the jars and, as a dependency, the JDT compiler for JSPs.
apt-get install -y --no-install-recommends tomcat10-common libtomcat10-java
apt-get clean
rm -rf /var/lib/apt/lists/*
# Without JDT, JSPs fail only at the first request: fail the build instead.
test -f /usr/share/java/eclipse-jdt-core.jar

# conf/ comes from static/ and stays root-owned; the service writes only logs, work (compiled JSPs) and temp.
# conf/Catalina/localhost must exist, or Tomcat logs SEVERE trying to create it in the read-only conf/.
mkdir -p "$CATALINA_BASE/conf/Catalina/localhost" "$CATALINA_BASE/logs" "$CATALINA_BASE/work" "$CATALINA_BASE/temp" "$CATALINA_BASE/webapps"
chown app:app "$CATALINA_BASE/logs" "$CATALINA_BASE/work" "$CATALINA_BASE/temp"
