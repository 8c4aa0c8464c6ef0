module github.com/wsksim/wsksim

go 1.26
