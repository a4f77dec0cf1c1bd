{{- /* Named .tpl, not .yaml: ansible-test sanity runs yamllint on *.yaml, and templates are not YAML. */}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: {{ .Values.greeting | quote }}
  mode: fast
