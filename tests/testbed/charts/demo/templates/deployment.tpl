{{- /* Named .tpl, not .yaml: ansible-test sanity runs yamllint on *.yaml, and templates are not YAML. */}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "demo.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "demo.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "demo.labels" . | nindent 8 }}
      annotations:
        # Restarts the pods when the configuration changes.
        checksum/config: {{ .Values.config | toJson | sha256sum }}
    spec:
      containers:
        - name: demo
          image: {{ .Values.image | quote }}
          ports:
            - name: http
              containerPort: 8080
