{{- /* Named .tpl, not .yaml: ansible-test sanity runs yamllint on *.yaml, and templates are not YAML. */}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: registry.local/demo:1.0
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: MODE
              value: fast
          resources:
            requests:
              cpu: 0.5
              memory: 64Mi
            limits:
              cpu: 1000m
              memory: 128Mi
