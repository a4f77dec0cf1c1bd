{{- /* Named .tpl, not .yaml: ansible-test sanity runs yamllint on *.yaml, and templates are not YAML. */}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "demo.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "demo.labels" . | nindent 4 }}
  ports:
    - name: http
      port: 80
      targetPort: http
