{{/* Labels on every object: the part-of label `manifests/` sets, and Helm's bookkeeping. */}}
{{- define "prepull.labels" -}}
app.kubernetes.io/part-of: prepull
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* An image reference: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "prepull.image" -}}
{{- $image := index .root.Values.images .name -}}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{- define "prepull.imagePullPolicy" -}}
{{- $image := index .root.Values.images .name -}}
{{- with $image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end -}}
{{- end -}}

{{- define "prepull.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* The bundled etcd's client URL. */}}
{{- define "prepull.etcdURL" -}}
https://prepull-etcd.{{ .Release.Namespace }}.svc:2379
{{- end -}}

{{/*
The TLS material as a dict of PEMs: given in values, read back from the Secrets of an
earlier install (upgrade), or made now. Computed once per render and cached in .Values.
*/}}
{{- define "prepull.tls" -}}
{{- if not .Values._tls -}}
{{- $ns := .Release.Namespace -}}
{{- $t := dict -}}
{{- if not .Values.tls.generate -}}
{{- $a := .Values.tls.apiserver -}}
{{- $e := .Values.tls.etcd -}}
{{- $_ := set $t "ca" (required "tls.apiserver.ca is required when tls.generate is false" $a.ca) -}}
{{- $_ := set $t "cert" (required "tls.apiserver.cert is required when tls.generate is false" $a.cert) -}}
{{- $_ := set $t "key" (required "tls.apiserver.key is required when tls.generate is false" $a.key) -}}
{{- if eq .Values.storage.type "etcd" -}}
{{- $_ := set $t "etcdCA" (required "tls.etcd.ca is required when tls.generate is false" $e.ca) -}}
{{- $_ := set $t "etcdServerCert" (required "tls.etcd.serverCert is required when tls.generate is false" $e.serverCert) -}}
{{- $_ := set $t "etcdServerKey" (required "tls.etcd.serverKey is required when tls.generate is false" $e.serverKey) -}}
{{- $_ := set $t "etcdClientCert" (required "tls.etcd.clientCert is required when tls.generate is false" $e.clientCert) -}}
{{- $_ := set $t "etcdClientKey" (required "tls.etcd.clientKey is required when tls.generate is false" $e.clientKey) -}}
{{- end -}}
{{- else -}}
{{- $days := int .Values.tls.validityDays -}}
{{- $serving := lookup "v1" "Secret" $ns "prepull-apiserver-tls" -}}
{{- if and $serving $serving.data -}}
{{- $_ := set $t "ca" (index $serving.data "ca.crt" | b64dec) -}}
{{- $_ := set $t "cert" (index $serving.data "tls.crt" | b64dec) -}}
{{- $_ := set $t "key" (index $serving.data "tls.key" | b64dec) -}}
{{- else -}}
{{- $ca := genCA "prepull-apiserver-ca" $days -}}
{{- $names := list "prepull-apiserver" (printf "prepull-apiserver.%s" $ns) (printf "prepull-apiserver.%s.svc" $ns) (printf "prepull-apiserver.%s.svc.cluster.local" $ns) -}}
{{- $cert := genSignedCert (printf "prepull-apiserver.%s.svc" $ns) nil $names $days $ca -}}
{{- $_ := set $t "ca" $ca.Cert -}}
{{- $_ := set $t "cert" $cert.Cert -}}
{{- $_ := set $t "key" $cert.Key -}}
{{- end -}}
{{- if eq .Values.storage.type "etcd" -}}
{{- $server := lookup "v1" "Secret" $ns "prepull-etcd-server-tls" -}}
{{- $client := lookup "v1" "Secret" $ns "prepull-etcd-client-tls" -}}
{{- if and $server $server.data $client $client.data -}}
{{- $_ := set $t "etcdCA" (index $server.data "ca.crt" | b64dec) -}}
{{- $_ := set $t "etcdServerCert" (index $server.data "tls.crt" | b64dec) -}}
{{- $_ := set $t "etcdServerKey" (index $server.data "tls.key" | b64dec) -}}
{{- $_ := set $t "etcdClientCert" (index $client.data "tls.crt" | b64dec) -}}
{{- $_ := set $t "etcdClientKey" (index $client.data "tls.key" | b64dec) -}}
{{- else -}}
{{- $ca := genCA "prepull-etcd-ca" $days -}}
{{- $names := list "prepull-etcd" (printf "prepull-etcd.%s" $ns) (printf "prepull-etcd.%s.svc" $ns) (printf "prepull-etcd.%s.svc.cluster.local" $ns) "localhost" -}}
{{- $server := genSignedCert (printf "prepull-etcd.%s.svc" $ns) (list "127.0.0.1") $names $days $ca -}}
{{- $client := genSignedCert "prepull-apiserver" nil nil $days $ca -}}
{{- $_ := set $t "etcdCA" $ca.Cert -}}
{{- $_ := set $t "etcdServerCert" $server.Cert -}}
{{- $_ := set $t "etcdServerKey" $server.Key -}}
{{- $_ := set $t "etcdClientCert" $client.Cert -}}
{{- $_ := set $t "etcdClientKey" $client.Key -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set .Values "_tls" $t -}}
{{- end -}}
{{- end -}}
