// viewers: N concurrent HTTP GET readers against 127.0.0.1, optionally rate-limited per connection.
// usage: viewers PORT PATH N RATE_BYTES_PER_SEC(0=unlimited) DURATION_S [RCVBUF]
// Reports aggregate throughput, per-connection throughput percentiles, and how many conns fell below 95% of the target rate.
// tvgate copy of ../shared/bench/viewers.c: the only change is that connection i sends
// "User-Agent: $VIEWERS_UA/i" ($VIEWERS_UA defaults to "viewers") (all connections come from 127.0.0.1; tvgate treats a new connection
// from the same address AND player (User-Agent) as a reconnect that replaces the older one).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/resource.h>
typedef struct { int fd; long long bytes; long long budget; int hdr_done; int dead; } conn_t;
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int cmpd(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  if(argc<6){fprintf(stderr,"usage: %s PORT PATH N RATE DURATION [RCVBUF]\n",argv[0]);return 2;}
  int port=atoi(argv[1]); const char*path=argv[2]; int n=atoi(argv[3]); double rate=atof(argv[4]); double dur=atof(argv[5]);
  int rcvbuf = argc>6?atoi(argv[6]):0;
  struct rlimit rl={65536,65536}; setrlimit(RLIMIT_NOFILE,&rl);
  conn_t*c=calloc(n,sizeof(conn_t)); static char buf[1<<18]; char req[1024];
  const char*ua=getenv("VIEWERS_UA"); if(!ua) ua="viewers";
  int ep=epoll_create1(0);
  struct sockaddr_in sa={0}; sa.sin_family=AF_INET; sa.sin_port=htons(port); inet_pton(AF_INET,"127.0.0.1",&sa.sin_addr);
  for(int i=0;i<n;i++){
    int fd=socket(AF_INET,SOCK_STREAM,0); if(fd<0){perror("socket");return 1;}
    if(rcvbuf) setsockopt(fd,SOL_SOCKET,SO_RCVBUF,&rcvbuf,sizeof rcvbuf);
    if(connect(fd,(void*)&sa,sizeof sa)<0){perror("connect");return 1;}
    snprintf(req,sizeof req,"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: %s/%d\r\nConnection: close\r\n\r\n",path,ua,i);
    if(write(fd,req,strlen(req))<0){perror("write");return 1;}
    fcntl(fd,F_SETFL,O_NONBLOCK); c[i].fd=fd;
    struct epoll_event ev={.events=EPOLLIN,.data.u32=i}; epoll_ctl(ep,EPOLL_CTL_ADD,fd,&ev);
  }
  double t0=now(), tend=t0+dur, last=t0; int dead=0;

  struct epoll_event evs[1024];
  long long warm_bytes_total=0; double warm_t=t0+ (dur>4?1.0:0.0); int warm_taken=0; long long *warm=calloc(n,sizeof(long long));
  while(1){
    double t=now(); if(t>=tend) break;
    if(!warm_taken && t>=warm_t){ for(int i=0;i<n;i++) warm[i]=c[i].bytes; warm_taken=1; warm_t=t; }
    if(rate>0){
      // tick-driven: every 10 ms refill each conn's budget and read up to it (no epoll => no busy loop)
      const double tk=0.010; double dt=t-last; if(dt<tk){ struct timespec ts={0,(long)((tk-dt)*1e9)}; nanosleep(&ts,0); continue; }
      last=t; for(int i=0;i<n;i++){ if(c[i].dead) continue; c[i].budget += (long long)(rate*dt); if(c[i].budget>(long long)(rate*0.2)) c[i].budget=(long long)(rate*0.2);
        while(c[i].budget>0){ long long want=c[i].budget; if(want>(long long)sizeof buf) want=sizeof buf;
          ssize_t r=read(c[i].fd,buf,want); if(r>0){c[i].bytes+=r;c[i].budget-=r; if(r<want) break;} else { if(r==0||(r<0&&errno!=EAGAIN)){c[i].dead=1;dead++;} break; } } }
    } else {
      int k=epoll_wait(ep,evs,1024,10);
      for(int e=0;e<k;e++){ int i=evs[e].data.u32; if(c[i].dead) continue;
        for(int rep=0;rep<4;rep++){ ssize_t r=read(c[i].fd,buf,sizeof buf); if(r>0){c[i].bytes+=r; if(r<(ssize_t)sizeof buf) break;} else { if(r==0||(r<0&&errno!=EAGAIN)){c[i].dead=1;dead++;epoll_ctl(ep,EPOLL_CTL_DEL,c[i].fd,0);} break; } } }
    }
  }
  double t1=now(); double span=t1-(warm_taken?warm_t:t0);
  double*per=malloc(n*sizeof(double)); long long tot=0; int below=0;
  for(int i=0;i<n;i++){ long long b=c[i].bytes-(warm_taken?warm[i]:0); tot+=b; per[i]=b/span; if(rate>0 && per[i]<0.95*rate) below++; }
  qsort(per,n,sizeof(double),cmpd);
  struct rusage ru; getrusage(RUSAGE_SELF,&ru);
  double cpu=ru.ru_utime.tv_sec+ru.ru_utime.tv_usec*1e-6+ru.ru_stime.tv_sec+ru.ru_stime.tv_usec*1e-6;
  printf("viewers n=%d rate=%.0f B/s dur=%.1fs measured=%.1fs agg=%.1f MB/s (%.2f Gbit/s) per-conn MB/s min=%.3f p50=%.3f max=%.3f below95%%=%d closed=%d client_cpu=%.2fs\n",
    n,rate,dur,span,tot/span/1e6,tot*8/span/1e9,per[0]/1e6,per[n/2]/1e6,per[n-1]/1e6,below,dead,cpu);
  return 0;
}
