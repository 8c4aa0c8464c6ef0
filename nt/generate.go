package nt

//go:generate go run ./internal/statusgen/cmd/statusgen -in statuses.txt -out zstatus.go
