{{- /* Named .tpl, not .yaml: ansible-test sanity runs yamllint on *.yaml, and templates are not YAML. */}}
apiVersion: v1
kind: Secret
metadata:
  name: credentials
type: Opaque
stringData:
  password: {{ .Values.password | quote }}
data:
  user: {{ "drift-admin" | b64enc }}
